"""Immutable values that cross the engine's seams: encoder protocol, ingested records, progress and results.

Front ends (GUI workers, CLIs) receive only these, never ORM objects or tensors, so they can be passed between
threads freely and shown without touching the database again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

# --------------------------------------------------------------------------------------------------- encoders


@runtime_checkable
class Encoder(Protocol):
    """What the library needs from a model. `engine.models.create_encoder` returns one; tests use fakes."""

    model_id: str  # stable name recorded in a library ("pmc-clip", "hf-hub:…", "local-dir:/…")
    dim: int
    device: str  # "cpu", "cuda:0", "mps"
    device_reason: str  # why this device was chosen, in words a user understands

    def load_image(self, path: str | Path) -> Any:
        """Decode an image file the way this model's vectors are made (`engine.imaging.open_image`, maybe at a
        reduced JPEG scale); thread-safe: called from a prefetch pool."""

    def preprocess(self, image: Any) -> Any:
        """PIL image -> model input [3, H, W] (thread-safe: called from a prefetch pool)."""

    def encode_preprocessed(self, batch: Any) -> np.ndarray:
        """Stacked `preprocess` outputs [N, 3, H, W] -> float32 [N, dim], rows L2-normalised."""

    def encode_images(self, images: Sequence[Any]) -> np.ndarray:
        """PIL images or paths -> float32 [N, dim], rows L2-normalised."""

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Strings -> float32 [N, dim], rows L2-normalised."""


@dataclass(frozen=True)
class ModelSpec:
    """How to build a library's model: a registry name plus optional local weights and tokenizer paths."""

    name: str = "pmc-clip"
    weights: str | None = None  # a checkpoint file or a folder of extracted files; None = download on first use
    tokenizer: str | None = None  # a folder with vocab.txt; None = download on first use


# --------------------------------------------------------------------------------------------------- ingestion


@dataclass(frozen=True)
class ArticleMeta:
    pmcid: str | None = None  # "PMC3460867" (always with the prefix)
    pmid: str | None = None
    doi: str | None = None
    title: str | None = None
    journal: str | None = None
    year: int | None = None
    license: str | None = None  # short code, e.g. "CC BY", "CC BY-NC", "CC0", or the licence text
    license_url: str | None = None
    authors: tuple[str, ...] = ()  # "Family, Given" (or a group's name), in the article's order
    volume: str | None = None
    issue: str | None = None
    pages: str | None = None  # "123-130", "123", or an electronic location such as "e1234"


@dataclass(frozen=True)
class FigureRecord:
    """One figure found by a reader, before it is encoded."""

    key: str  # unique and stable within its source (re-reading the source gives the same key)
    image_path: Path  # a readable image file on disk (archives are extracted first)
    caption: str | None = None
    label: str | None = None  # "Figure 3"
    figure_id: str | None = None  # the JATS fig id or the data set's image name
    article: ArticleMeta | None = None


@dataclass(frozen=True)
class SourceProblem:
    """Something a reader skipped: reported to the user, never raised for a single bad item."""

    path: str
    message: str


@dataclass(frozen=True)
class IngestProgress:
    phase: str  # "scanning", "encoding", "paused", "indexing", "done", "cancelled"
    done: int
    total: int | None
    rate: float | None = None  # items per second over the recent window
    eta_seconds: float | None = None
    errors: tuple[SourceProblem, ...] = ()  # new problems since the previous progress value
    message: str = ""


@dataclass(frozen=True)
class IngestReport:
    collection_id: int
    added: int
    reused: int  # unchanged, renamed or duplicate files whose vectors were reused
    removed: int
    failed: int
    problems: tuple[SourceProblem, ...] = ()
    cancelled: bool = False
    seconds: float = 0.0


# --------------------------------------------------------------------------------------------------- search


@dataclass(frozen=True)
class QueryTerm:
    """One part of a combined query: text or an image, with a weight (negative subtracts)."""

    text: str | None = None
    image: Any = None  # path, PIL image or DICOM path
    figure_id: int | None = None  # a figure already in the library: its stored vector, no re-encoding
    weight: float = 1.0


@dataclass(frozen=True)
class SearchFilters:
    collection_ids: tuple[int, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    journals: tuple[str, ...] = ()
    modalities: tuple[str, ...] = ()
    pmcids: tuple[str, ...] = ()


class SortOrder(str, Enum):
    """How a result list is ordered; the values are what the CLI accepts and what settings store."""

    RELEVANCE = "relevance"
    NEWEST_FIRST = "year_desc"
    OLDEST_FIRST = "year_asc"


@dataclass(frozen=True)
class SearchQuery:
    terms: tuple[QueryTerm, ...]
    filters: SearchFilters = field(default_factory=SearchFilters)
    # Keep only results scoring at least this, on the scale the results are shown on (`SearchPage.verdict.scale`).
    # None: the default cut — strong and weak matches, or the few closest ones when nothing stands out.
    min_score: float | None = None
    sort: SortOrder = SortOrder.RELEVANCE
    offset: int = 0
    limit: int = 50
    hybrid: bool = True  # let caption keywords (FTS5) add evidence to the vector similarity


class ScoreScale(str, Enum):
    """What the score on a result means; README "What the numbers mean" states both scales."""

    # Text queries: how far the figure's similarity to the query rises above the similarity that meaningless
    # prompts reach on that same figure, in units of the spread of those meaningless prompts' similarities.
    STRENGTH = "strength"
    # Image queries: 0 = the query image's average similarity to a fixed sample of the library, 100 = identical.
    CLOSENESS = "closeness"


class MatchLevel(str, Enum):
    """How well one result (or, in a Verdict, the best result) matches, in words a user can act on."""

    IDENTICAL = "identical"  # image queries: the same file content
    NEAR_IDENTICAL = "near-identical"  # image queries: to this model, indistinguishable from the query image
    STRONG = "strong"
    WEAK = "weak"
    NONE = "none"  # no better than the background: shown only as "closest, but weak"


@dataclass(frozen=True)
class Verdict:
    """The answer to "did anything match?" for a whole query."""

    level: MatchLevel  # STRONG, WEAK or NONE (identical / near-identical image matches count as STRONG)
    scale: ScoreScale
    best_score: float | None  # the best result's score on `scale` (None when nothing could be scored)
    message: str  # one sentence for the user
    unknown_words: tuple[str, ...] = ()  # query words this model cannot read and no caption contains
    ignored_words: tuple[str, ...] = ()  # words left out of keyword matching (stop words, bare digits, letters)


@dataclass(frozen=True)
class WhyMatched:
    similarity: float  # raw cosine similarity of the query vector and the figure vector
    background: float | None = None  # the similarity the background reaches on this figure (see ScoreScale)
    vector_score: float | None = None  # the score from the vectors alone, on the result's scale
    keyword_bonus: float = 0.0  # what caption keywords added to `vector_score` (same scale)
    matched_terms: tuple[str, ...] = ()  # caption words that the keyword search matched
    vector_rank: int | None = None
    keyword_rank: int | None = None


@dataclass(frozen=True)
class SearchResult:
    figure_id: int  # catalog id
    score: float  # the number the result is ranked by and shown with, on the page's ScoreScale
    image_path: Path
    caption: str | None
    label: str | None
    collection: str
    modality: str | None  # None: not classified, or "unclassified" when modality_confidence is set
    modality_confidence: float | None
    article: ArticleMeta | None
    why: WhyMatched
    match: MatchLevel = MatchLevel.NONE
    collections: tuple[str, ...] = ()  # every collection holding this same image (one card per figure)


@dataclass(frozen=True)
class SearchPage:
    results: tuple[SearchResult, ...]
    total_candidates: int
    offset: int
    elapsed_ms: float
    verdict: Verdict | None  # did anything match? None only for a page with no query (a browsed collection)


@dataclass(frozen=True)
class CaptionMatch:
    """Image -> caption search: a caption in the library that describes something like the query image."""

    figure_id: int  # the library's figure with this caption (the nearest one when several share it)
    caption: str
    score: float  # match strength (ScoreScale.STRENGTH): the caption read as the query, the image as the figure
    article: ArticleMeta | None
    similarity: float = 0.0  # raw cosine similarity of the image and the caption
    image_path: Path | None = None  # that figure's image, for showing it beside the caption
    label: str | None = None


@dataclass(frozen=True)
class CollectionInfo:
    id: int
    name: str
    kind: str  # "folder", "pmc", "pmc-oa", "roco"
    source: str  # the folder or file it was made from (the first one when it has several)
    figures: int
    articles: int = 0  # distinct articles its figures come from (0 for folders of images)
    status: str = "complete"  # "incomplete": its last indexing run was cancelled or failed; it can be resumed
    sources: tuple[str, ...] = ()  # every folder or file it was made from, in order


@dataclass(frozen=True)
class Facets:
    """What the search filters can offer: only values some figure in the library actually has."""

    journals: tuple[str, ...] = ()
    years: tuple[int, int] | None = None
    modalities: tuple[str, ...] = ()
    collections: tuple[CollectionInfo, ...] = ()


@dataclass(frozen=True)
class LibraryInfo:
    path: Path
    model_id: str
    dim: int
    figures: int
    articles: int
    collections: tuple[CollectionInfo, ...]
    index_size: int
    device: str | None = None
    device_reason: str | None = None
    read_only: bool = False
    model_spec: ModelSpec = field(default_factory=ModelSpec)
