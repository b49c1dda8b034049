"""Small helpers for the library tests: write coloured images, run an ingest to the end."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

from engine.library import Library
from engine.progress import run_to_end
from engine.types import IngestProgress, IngestReport, ModelSpec
from tests.fakes import FakeEncoder, solid_image


def write_images(folder: Path, colours: dict[str, str], *, speckle_from: int = 0) -> None:
    """name -> colour; every image gets its own speckle so no two are byte-identical unless asked."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, (name, colour) in enumerate(sorted(colours.items())):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        solid_image(colour, speckle=speckle_from + n + 1).save(path)


def drain(steps: Generator[IngestProgress, None, IngestReport]) -> tuple[list[IngestProgress], IngestReport]:
    seen: list[IngestProgress] = []
    report = run_to_end(steps, seen.append)
    return seen, report


def new_library(path: Path, encoder: FakeEncoder | None = None) -> Library:
    encoder = encoder or FakeEncoder()
    library = Library.create(path, ModelSpec(name="fake"), model_id=encoder.model_id, dim=encoder.dim)
    library.attach_encoder(encoder)
    return library


def index_consistent_with_catalog(library: Library) -> bool:
    figure_ids = sorted(r.figure_id for r in all_figures(library))
    return figure_ids == sorted(library._index.current().ids().tolist())


def all_figures(library: Library):
    from sqlalchemy import select

    from engine.catalog import Figure

    with library._sessions() as session:
        return [library.figure(i) for i in session.scalars(select(Figure.id))]
