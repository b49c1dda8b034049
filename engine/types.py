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

    def preprocess(self, image: Any) -> Any:
        """PIL image -> model input tensor [3, H, W] (thread-safe: called from a prefetch pool)."""

    def encode_preprocessed(self, batch: Any) -> np.ndarray:
        """Stacked tensors [N, 3, H, W] -> float32 [N, dim], rows L2-normalised."""

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
    min_score: float | None = None  # relevance threshold on the similarity
    sort: SortOrder = SortOrder.RELEVANCE
    offset: int = 0
    limit: int = 50
    hybrid: bool = True  # fuse caption keyword hits (FTS5) with vector similarity


@dataclass(frozen=True)
class WhyMatched:
    similarity: float  # cosine similarity of the query vector and the figure vector
    matched_terms: tuple[str, ...] = ()  # caption words that the keyword search matched
    vector_rank: int | None = None
    keyword_rank: int | None = None


@dataclass(frozen=True)
class SearchResult:
    figure_id: int  # catalog id
    score: float  # the fused score used for ranking
    image_path: Path
    caption: str | None
    label: str | None
    collection: str
    modality: str | None
    modality_confidence: float | None
    article: ArticleMeta | None
    why: WhyMatched


@dataclass(frozen=True)
class SearchPage:
    results: tuple[SearchResult, ...]
    total_candidates: int
    offset: int
    elapsed_ms: float


@dataclass(frozen=True)
class CaptionMatch:
    """Image -> caption search: a caption in the library that describes something like the query image."""

    figure_id: int
    caption: str
    score: float
    article: ArticleMeta | None


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
