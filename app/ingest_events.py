"""What an indexing job tells the window, as typed values (besides `engine.types.IngestProgress`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.types import CollectionInfo, IngestReport


@dataclass(frozen=True)
class SourceStarted:
    collection: CollectionInfo


@dataclass(frozen=True)
class SourceFinished:
    collection: CollectionInfo
    report: IngestReport


@dataclass(frozen=True)
class SourceFailed:
    """A source that could not even be registered (missing, not a kind we read); the others go on."""

    source: Path
    message: object  # app.problems.Problem
