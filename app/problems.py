"""What the window says when something fails: a plain sentence for a clinician, and the technical detail apart.

The banner shows `Problem.summary`; `Problem.details` (the exception's own text: file names, transfer-syntax UIDs,
URLs) sits under "Details…". Engine errors are mapped by type; an app-made `UserInputError` already speaks plainly
and carries its technical cause as `__cause__`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from engine.errors import (
    ArchiveError,
    ArticleParseError,
    DeviceError,
    DownloadError,
    ImageDecodeError,
    LibraryDamagedError,
    LibraryLockedError,
    LibraryModelMismatchError,
    OfflineError,
    PmcSearchError,
    UserInputError,
    WeightsError,
)
from engine.storage_errors import as_storage_error

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Problem:
    summary: str  # one or two plain sentences: what happened and what the user can do
    details: str = ""  # the technical text, for a colleague or a bug report

    def __str__(self) -> str:
        return self.summary


# Most specific first: the first type the error is an instance of gives the sentence.
_SUMMARIES: tuple[tuple[type[BaseException], str], ...] = (
    (LibraryLockedError, "This library is open in another PMC Figure Search window."),
    (LibraryDamagedError, "This library is damaged. Repairing it keeps every figure whose files are intact."),
    (LibraryModelMismatchError, "This library was built with a different model, so it cannot be used with this one."),
    (OfflineError, "The search model is not on this computer yet, and downloading is switched off."),
    (DownloadError, "The search model could not be downloaded. Check the internet connection and try again."),
    (WeightsError, "The model file cannot be used: it is incomplete, damaged, or not a model this program reads."),
    (DeviceError, "The chosen graphics card or device cannot be used. Choose “Automatic” in Settings."),
    (ArchiveError, "This archive cannot be imported: it is damaged or holds files it must not."),
    (ArticleParseError, "This article file cannot be read: it is damaged or not a PubMed Central article."),
)


def image_problem(error: ImageDecodeError) -> str:
    text = str(error)
    if "over the limit" in text or "too many pixels" in text:
        return "This image is too large to use (it has too many pixels). Use a smaller copy of it."
    if "no Pixel Data" in text or "no image" in text:
        return "This DICOM file holds no image."
    if "transfer syntax" in text and "cannot decode" in text:
        return "This DICOM image is compressed in a way this program cannot read yet."
    return "This image cannot be read: the file is damaged, incomplete, or not an image."


def describe_error(error: BaseException) -> Problem:
    """The words for `error` in the window's one error banner."""
    if isinstance(error, ImageDecodeError):
        return Problem(image_problem(error), str(error))
    storage = as_storage_error(error)
    if storage is not None:  # a full disk, a read-only folder: the user's to fix, not our bug; nothing was lost
        return Problem(
            f"{_sentence(str(storage))} Free some space or fix the folder's permissions, then try again.",
            f"{type(error).__name__}: {error}",
        )
    for kind, summary in _SUMMARIES:
        if isinstance(error, kind):
            return Problem(summary, str(error))
    if isinstance(error, UserInputError):
        cause = error.__cause__
        return Problem(_sentence(str(error)), str(cause) if cause is not None else "")
    if isinstance(error, PmcSearchError):
        return Problem("That did not work. The details below say why.", str(error))
    return Problem(
        "Something went wrong inside the program. The details below and the log file help to fix it.",
        f"{type(error).__name__}: {error}",
    )


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    if not text:
        return "That did not work."
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."
