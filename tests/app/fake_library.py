"""An in-memory `engine.library.FigureLibrary` for fast GUI tests (a test checks it against the protocol).

Figures are real PNG files (so thumbnails decode), captions are searched word by word, an image query scores by
the image's mean colour, and ingestion yields progress per batch with an optional delay — enough to exercise
the window's behaviour without a catalog, an index or a model.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import replace
from pathlib import Path

from PIL import Image

from engine.errors import LibraryLockedError
from engine.search.verdict import CLOSEST_WHEN_NONE, QueryFacts, Scale, verdict
from engine.types import (
    ArticleMeta,
    CaptionMatch,
    CollectionInfo,
    Facets,
    IngestProgress,
    IngestReport,
    LibraryInfo,
    MatchLevel,
    ModelSpec,
    QueryTerm,
    ScoreScale,
    SearchFilters,
    SearchPage,
    SearchQuery,
    SearchResult,
    SourceProblem,
    WhyMatched,
)

FAKE_TEXT_SCALE = Scale(ScoreScale.STRENGTH, strong=1.0, weak=0.5, keyword_gate=0.0, keyword_weight=0.0)
FAKE_IMAGE_SCALE = Scale(ScoreScale.CLOSENESS, strong=90.0, weak=60.0, keyword_gate=0.0, keyword_weight=0.0,
                         near_identical=99.5)

CAPTIONS = [
    "Axial CT of the chest showing a right pneumothorax with a chest tube.",
    "Chest X-ray with a left rib fracture.",
    "Brain MRI, T2-weighted, with a frontal lobe lesion.",
    "H&E histology of adenocarcinoma.",
    "Fluorescence microscopy of neurons.",
    "Bar chart of tumour volume per group.",
]
COLOURS = [(30, 30, 30), (200, 200, 200), (120, 120, 120), (230, 190, 210), (40, 220, 90), (255, 255, 255)]


def make_figures(folder: Path, count: int = 12) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"fig-{i:03d}.png"
        Image.new("RGB", (64, 48), COLOURS[i % len(COLOURS)]).save(path)
        paths.append(path)
    return paths


class FakeLibrary:
    locked_paths: set[str] = set()

    def __init__(self, path: Path, figures_dir: Path | None = None, count: int = 12, batch_delay: float = 0.0,
                 batches: int = 5, read_only: bool = False):
        self.path = Path(path)
        self.model_spec = ModelSpec(name="fake")
        self.model_id, self.dim = "fake", 32
        self.read_only = read_only
        self.batch_delay, self.batches = batch_delay, batches
        self.queries: list[SearchQuery] = []
        self.unknown_words: set[str] = {"pneumothorax"}  # words this fake "model" cannot read
        self.ingest_calls: list[int] = []
        self.described: list = []  # what captions_for_image was asked about
        self._lock = threading.Lock()
        self._collections: dict[int, CollectionInfo] = {}
        self._figures: list[tuple[int, SearchResult]] = []
        self.closed = False
        self.close_delay = 0.0  # seconds close() takes (saving a big index)
        if figures_dir is not None:
            first = self.add_collection(figures_dir, kind="folder").id
            self._add_figures(first, make_figures(figures_dir, count))
            self._set_collection(first, "complete")

    def _add_figures(self, collection_id: int, paths: list[Path]) -> None:
        collection = self._collections[collection_id]
        for i, path in enumerate(paths):
            article = ArticleMeta(pmcid=f"PMC{1000 + i}", doi=f"10.1000/demo.{i}", title=f"Article {i}",
                                  journal="Radiology Cases" if i % 2 else "J Pathol", year=2010 + i % 10,
                                  license="CC BY 4.0", license_url="https://creativecommons.org/licenses/by/4.0/")
            result = SearchResult(
                figure_id=len(self._figures) + 1, score=0.0, image_path=path, caption=CAPTIONS[i % len(CAPTIONS)],
                label=f"Figure {i + 1}", collection=collection.name, modality=None, modality_confidence=None,
                article=article, why=WhyMatched(similarity=0.0), collections=(collection.name,),
            )
            self._figures.append((collection_id, result))
        self._set_collection(collection_id)

    def _set_collection(self, collection_id: int, status: str | None = None) -> None:
        collection = self._collections[collection_id]
        mine = [r for c, r in self._figures if c == collection_id]
        self._collections[collection_id] = dataclasses.replace(
            collection, figures=len(mine), articles=len({r.article.pmcid for r in mine}),
            status=status or collection.status,
        )

    # --- the Library API the GUI uses -------------------------------------------------------------------------
    def info(self) -> LibraryInfo:
        return LibraryInfo(path=self.path, model_id=self.model_id, dim=self.dim, figures=len(self._figures),
                           articles=len(self._figures), collections=tuple(self._collections.values()),
                           index_size=len(self._figures), device="cpu", device_reason="test: no GPU in this test",
                           read_only=self.read_only, model_spec=self.model_spec)

    def collections(self) -> list[CollectionInfo]:
        return list(self._collections.values())

    def facets(self) -> Facets:
        return Facets(journals=tuple(sorted({r.article.journal for _, r in self._figures})), years=(2010, 2019),
                      collections=tuple(self.collections()))

    def add_collection(self, source, *, kind: str = "auto", name: str | None = None) -> CollectionInfo:
        sources = [str(source)] if isinstance(source, (str, Path)) else [str(s) for s in source]
        with self._lock:
            for info in self._collections.values():
                if list(info.sources) == sources:
                    return info
            cid = max(self._collections, default=0) + 1
            info = CollectionInfo(cid, name or Path(sources[0]).name, "folder" if kind == "auto" else kind,
                                  sources[0], 0, status="incomplete", sources=tuple(sources))
            self._collections[cid] = info
            return info

    def remove_collection(self, collection_id: int) -> None:
        with self._lock:
            self._collections.pop(collection_id)
            self._figures = [(c, r) for c, r in self._figures if c != collection_id]

    def import_vectors(self, collection_id: int, vectors_dir, *, cancel=None):
        """Shards are a real-library feature: the fake takes them as an ingest of the collection's folder."""
        return self.ingest(collection_id, cancel=cancel)

    def ingest(self, collection_id: int, *, cancel=None, pause=None, batch_size: int = 32):
        self.ingest_calls.append(collection_id)
        # Caption sidecars belong to their image, as in the real folder reader.
        files = sorted(
            p for source in self._collections[collection_id].sources for p in Path(source).iterdir()
            if p.is_file() and not (p.suffix == ".txt" and p.with_suffix(".jpg").exists())
        )
        with self._lock:
            self._figures = [(c, r) for c, r in self._figures if c != collection_id]  # re-read, like a real re-scan
            self._set_collection(collection_id, "incomplete")
        started, done, problems = time.monotonic(), 0, []
        for batch in range(self.batches):
            while pause is not None and pause() and not (cancel and cancel()):
                time.sleep(0.01)
            if cancel is not None and cancel():
                return IngestReport(collection_id, done, 0, 0, len(problems), tuple(problems), cancelled=True,
                                    seconds=time.monotonic() - started)
            time.sleep(self.batch_delay)  # "encoding" (releases the GIL like a real model does)
            chunk = files[batch::self.batches]
            images = [p for p in chunk if p.suffix in (".png", ".jpg")]
            new = [SourceProblem(str(p), "not an image") for p in chunk if p.suffix not in (".png", ".jpg")]
            problems.extend(new)
            with self._lock:
                self._add_figures(collection_id, images)
            done += len(chunk)
            elapsed = max(time.monotonic() - started, 1e-6)
            yield IngestProgress("encoding", done, len(files), rate=done / elapsed,
                                 eta_seconds=(len(files) - done) / (done / elapsed), errors=tuple(new))
        with self._lock:
            self._set_collection(collection_id, "complete")
        return IngestReport(collection_id, done - len(problems), 0, 0, len(problems), tuple(problems),
                            seconds=time.monotonic() - started)

    def search(self, query: SearchQuery) -> SearchPage:
        """Text: the share of the query's words in the caption (1 = strong, 0.5 = weak, 0 = none); an image adds 0.5.
        Like the engine: one order by the score shown, the verdict on the page, the 3 closest when none matches."""
        self.queries.append(query)
        words = [w.lower() for t in query.terms if t.text for w in t.text.split()]
        image_term = next((t.image or t.figure_id for t in query.terms if t.image is not None or t.figure_id), None)
        exclude = {t.figure_id for t in query.terms if t.figure_id is not None}
        scale = FAKE_IMAGE_SCALE if image_term is not None else FAKE_TEXT_SCALE
        results = []
        for _, r in list(self._figures):
            if r.figure_id in exclude:
                continue
            score = sum(w in (r.caption or "").lower() for w in words) / max(len(words), 1) if words else 0.0
            if image_term is not None:
                score = 70.0 + 30.0 * score  # every figure "looks like" the query image a little (weak)
            matched = tuple(w for w in words if w in (r.caption or "").lower())
            why = WhyMatched(similarity=score / 100 if image_term is not None else score, vector_score=score,
                             matched_terms=matched)
            results.append(replace(r, score=score, why=why, match=scale.level(score)))
        results.sort(key=lambda r: (-r.score, r.figure_id))
        best = results[0].score if results else None
        if query.min_score is not None:
            results = [r for r in results if r.score >= query.min_score]
        else:
            results = [r for r in results if r.match is not MatchLevel.NONE] or results[:CLOSEST_WHEN_NONE]
        facts = QueryFacts(text=" ".join(t.text for t in query.terms if t.text), image=image_term is not None,
                           unknown_words=tuple(w for w in words if w in self.unknown_words))
        page_verdict = verdict(scale, best, len(results), facts)
        return SearchPage(tuple(results[: query.limit]), len(results), 0, 1.0, page_verdict)

    def similar_to(self, figure_id: int, *, limit: int = 50, filters: SearchFilters | None = None) -> SearchPage:
        return self.search(SearchQuery(terms=(QueryTerm(figure_id=figure_id),), limit=limit))

    def captions_for_image(self, image, *, limit: int = 10) -> list[CaptionMatch]:
        self.described.append(image)
        return [
            CaptionMatch(r.figure_id, r.caption, 3.0 - 0.1 * n, r.article, 0.5, r.image_path, r.label)
            for n, (_, r) in enumerate(self._figures[:limit])
            if r.caption
        ]

    def browse(self, collection_id: int, *, offset: int = 0, limit: int = 200) -> SearchPage:
        mine = [r for c, r in list(self._figures) if c == collection_id]
        return SearchPage(tuple(mine[offset:offset + limit]), len(mine), offset, 1.0, verdict=None)

    def figure(self, figure_id: int) -> SearchResult:
        return next(r for _, r in self._figures if r.figure_id == figure_id)

    def problems(self, collection_id=None):
        return []

    def close(self) -> None:
        time.sleep(self.close_delay)
        self.closed = True


def fake_opener(figures_dir: Path | None = None, **kwargs):
    """An `opener` for AppController that returns a FakeLibrary (or refuses a 'locked' path)."""
    opened: list[FakeLibrary] = []

    def opener(path, spec, *, device="auto", offline=False, read_only=False, progress=None):
        if str(path) in FakeLibrary.locked_paths and not read_only:
            raise LibraryLockedError(f"{path} is in use by another running instance (pid 4242)")
        library = FakeLibrary(path, figures_dir, read_only=read_only, **kwargs)
        opened.append(library)
        return library

    opener.opened = opened
    return opener
