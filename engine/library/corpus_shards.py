"""The on-disk format of a corpus embedding: one folder per rank, each a manifest plus parts of vectors.

    OUT/rank-00000-of-00002/manifest.json
    OUT/rank-00000-of-00002/part-000000.npz   # vectors float32 [n, dim] + records (UTF-8 JSON, one per vector)

Rank r of w owns the source's records r, r + w, r + 2w, … in the reader's (deterministic) order, so any number
of ranks cover the source exactly once. A part is written atomically (engine.fileio), then the manifest is
rewritten atomically to list it and to advance `consumed`, the number of the rank's records dealt with (encoded
or reported as problems). After a crash the rank reopens its manifest, drops any part the manifest does not list
and skips `consumed` records: nothing is encoded twice and nothing is lost. A record carries what a catalog row
needs (key, path, size, mtime, SHA-256, caption, label, article), so a library is built from the shards without
reading an image again. Parts hold no pickles: they are read with `allow_pickle=False`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from engine.errors import UserInputError
from engine.fileio import atomic_output, atomic_write_text, file_sha256, remove_stale_temp_files
from engine.library.ingest import EncodedFigure
from engine.types import ArticleMeta, FigureRecord

logger = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "manifest.json"


def figure_to_json(figure: EncodedFigure) -> dict:
    r = figure.record
    return {
        "key": r.key, "image_path": str(r.image_path), "caption": r.caption, "label": r.label,
        "figure_id": r.figure_id, "article": asdict(r.article) if r.article else None,
        "size": figure.size, "mtime_ns": figure.mtime_ns, "sha256": figure.sha256,
    }


_ARTICLE_FIELDS = frozenset(f.name for f in fields(ArticleMeta))


def _article_from_json(raw: object) -> ArticleMeta | None:
    """The article of a shard record: known fields only, the author list back to a tuple (JSON made it a list, and
    an ArticleMeta must stay hashable: the ingest groups figures by article)."""
    if not isinstance(raw, dict) or not raw:
        return None
    values = {name: value for name, value in raw.items() if name in _ARTICLE_FIELDS}
    values["authors"] = tuple(str(author) for author in values.get("authors") or ())
    return ArticleMeta(**values)


def figure_from_json(d: dict) -> EncodedFigure:
    article = _article_from_json(d.get("article"))
    record = FigureRecord(
        key=str(d["key"]), image_path=Path(d["image_path"]), caption=d.get("caption"), label=d.get("label"),
        figure_id=d.get("figure_id"), article=article,
    )
    return EncodedFigure(record, int(d["size"]), int(d["mtime_ns"]), str(d["sha256"]))


@dataclass
class ShardManifest:
    model_id: str
    dim: int
    preprocess: str  # the encoder's preprocessing, described (a library refuses shards made with another)
    source: str
    kind: str
    rank: int
    world_size: int
    consumed: int = 0
    parts: list[dict] = field(default_factory=list)  # {"file", "count", "sha256"}
    problems: list[dict] = field(default_factory=list)  # {"path", "message"}
    complete: bool = False
    format: int = FORMAT

    @property
    def vectors(self) -> int:
        return sum(int(p["count"]) for p in self.parts)


def rank_folder(out: Path, rank: int, world_size: int) -> Path:
    return Path(out) / f"rank-{rank:05d}-of-{world_size:05d}"


def read_manifest(folder: Path) -> ShardManifest | None:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") != FORMAT:
            raise UserInputError(f"{path}: unknown shard format {data.get('format')!r}")
        return ShardManifest(**data)
    except (ValueError, TypeError) as e:
        raise UserInputError(f"{path} is not a shard manifest: {e}") from e


def write_manifest(folder: Path, manifest: ShardManifest) -> None:
    atomic_write_text(Path(folder) / MANIFEST, json.dumps(asdict(manifest), indent=1))


class ShardWriter:
    """Appends parts to one rank's folder and keeps its manifest current; resumes from what the manifest lists."""

    def __init__(self, folder: Path, fresh: ShardManifest):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        existing = read_manifest(self.folder)
        if existing is not None:
            _check_same_job(existing, fresh, self.folder)
            self.manifest = existing
        else:
            self.manifest = fresh
        listed = {p["file"] for p in self.manifest.parts}
        for stray in self.folder.glob("part-*.npz"):  # written after the last manifest update: redone now
            if stray.name not in listed:
                stray.unlink()
        remove_stale_temp_files(self.folder, MANIFEST)
        write_manifest(self.folder, self.manifest)

    def add_part(self, figures: list[EncodedFigure], vectors: np.ndarray, consumed: int, problems: list[dict]):
        """Write one part and advance the manifest to `consumed` records (atomic, in that order)."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(figures), self.manifest.dim):
            raise ValueError(f"vectors {vectors.shape} do not match {len(figures)} figures of dim {self.manifest.dim}")
        if figures:
            name = f"part-{len(self.manifest.parts):06d}.npz"
            records = json.dumps([figure_to_json(f) for f in figures]).encode("utf-8")
            path = self.folder / name
            with atomic_output(path) as tmp, open(tmp, "wb") as handle:
                np.savez(handle, vectors=vectors, records=np.frombuffer(records, dtype=np.uint8))
            self.manifest.parts.append({"file": name, "count": len(figures), "sha256": file_sha256(path)})
        self.manifest.consumed = consumed
        self.manifest.problems.extend(problems)
        write_manifest(self.folder, self.manifest)

    def finish(self) -> None:
        self.manifest.complete = True
        write_manifest(self.folder, self.manifest)


def _check_same_job(existing: ShardManifest, fresh: ShardManifest, folder: Path) -> None:
    for name in ("model_id", "dim", "preprocess", "source", "kind", "rank", "world_size"):
        if getattr(existing, name) != getattr(fresh, name):
            raise UserInputError(
                f"{folder} holds another embedding ({name} {getattr(existing, name)!r}, now {getattr(fresh, name)!r});"
                " use another --out folder or delete it"
            )


# ------------------------------------------------------------------------------------------------ reading
@dataclass(frozen=True)
class CorpusShards:
    """All rank folders of one corpus embedding, checked to belong together."""

    folder: Path
    manifests: tuple[tuple[Path, ShardManifest], ...]

    @property
    def first(self) -> ShardManifest:
        return self.manifests[0][1]

    @property
    def complete(self) -> bool:
        world = self.first.world_size
        return len(self.manifests) == world and all(m.complete for _, m in self.manifests)

    @property
    def count(self) -> int:
        return sum(m.vectors for _, m in self.manifests)

    def problems(self) -> list[dict]:
        return [p for _, m in self.manifests for p in m.problems]

    def iter_parts(self) -> Iterator[tuple[list[EncodedFigure], np.ndarray]]:
        """(figures, vectors float32 [n, dim]) part by part; a part whose bytes changed is an error."""
        for folder, manifest in self.manifests:
            for part in manifest.parts:
                yield read_part(folder / part["file"], manifest.dim, part.get("sha256"))


def read_part(path: Path, dim: int, sha256: str | None = None) -> tuple[list[EncodedFigure], np.ndarray]:
    if sha256 is not None and file_sha256(path) != sha256:
        raise UserInputError(f"{path} does not match its manifest (damaged or replaced); embed that rank again")
    try:
        with np.load(path, allow_pickle=False) as data:
            vectors = np.asarray(data["vectors"], dtype=np.float32)
            records = json.loads(data["records"].tobytes().decode("utf-8"))
    except (OSError, ValueError, KeyError) as e:
        raise UserInputError(f"cannot read shard part {path}: {e}") from e
    if vectors.ndim != 2 or vectors.shape != (len(records), dim) or not np.isfinite(vectors).all():
        raise UserInputError(f"{path}: vectors of shape {vectors.shape} do not fit {len(records)} records of dim {dim}")
    return [figure_from_json(r) for r in records], vectors


def open_shards(folder: str | Path) -> CorpusShards:
    """The rank folders under `folder`; UserInputError when there are none or they disagree with each other."""
    folder = Path(folder)
    found = [(sub, read_manifest(sub)) for sub in sorted(folder.glob("rank-*-of-*")) if sub.is_dir()]
    found = [(sub, m) for sub, m in found if m is not None]
    if not found:
        raise UserInputError(f"no embedding shards in {folder} (expected rank-*-of-*/manifest.json from embed-corpus)")
    first = found[0][1]
    for sub, manifest in found[1:]:
        for name in ("model_id", "dim", "preprocess", "source", "kind", "world_size"):
            if getattr(manifest, name) != getattr(first, name):
                raise UserInputError(f"{sub} was made with another {name} than {found[0][0]}; they cannot be mixed")
    return CorpusShards(folder, tuple(found))
