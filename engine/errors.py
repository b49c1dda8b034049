"""One exception hierarchy for everything the engine raises.

Front ends map these to messages and exit codes: `UserInputError` and its children are the user's to fix
(a missing file, a wrong model name, a corrupt image); everything else is our bug or the environment's.
"""


class PmcSearchError(Exception):
    """Base of every error the engine raises on purpose."""


class UserInputError(PmcSearchError):
    """The input is wrong in a way the user can fix; the message says how."""


class ConfigError(UserInputError):
    """A setting, config file or model name is invalid."""


class ModelNotFoundError(ConfigError):
    """A model name is not in the registry."""


class WeightsError(UserInputError):
    """Model weights are missing, incomplete, mismatched or unsafe."""


class CheckpointKeyError(WeightsError):
    """A checkpoint does not match the model's parameters key for key."""

    def __init__(self, source: str, missing: list[str], unexpected: list[str]):
        self.source, self.missing, self.unexpected = source, list(missing), list(unexpected)
        parts = []
        if missing:
            parts.append(f"missing keys: {', '.join(missing[:20])}" + (" …" if len(missing) > 20 else ""))
        if unexpected:
            parts.append(f"unexpected keys: {', '.join(unexpected[:20])}" + (" …" if len(unexpected) > 20 else ""))
        super().__init__(f"{source} does not match the model ({'; '.join(parts)})")


class UnsafeFileError(WeightsError):
    """A file tried to do something a data file must not do (run code, escape a folder, expand forever)."""


class DownloadError(PmcSearchError):
    """A download failed (network, server, checksum)."""


class OfflineError(DownloadError, UserInputError):
    """A file is needed that is not on this machine and downloading is off."""


class RemoteFileMissingError(DownloadError):
    """The server says the file does not exist (HTTP 404 / the hub's EntryNotFound)."""


class ChecksumError(DownloadError):
    """A downloaded file does not have the size or hash it should have."""


class DeviceError(ConfigError):
    """The requested compute device does not exist or cannot be used."""


class ImageDecodeError(UserInputError):
    """An image file cannot be read; the message names the file and why."""


class ArchiveError(UnsafeFileError):
    """An archive is corrupt or hostile (path traversal, links, device files, too large)."""


class ArticleParseError(UserInputError):
    """An article XML cannot be parsed or is not JATS."""


class LibraryError(PmcSearchError):
    """The figure library (catalog + index) cannot be used as asked."""


class LibraryLockedError(LibraryError, UserInputError):
    """Another running instance holds this library."""


class LibraryModelMismatchError(LibraryError, UserInputError):
    """A library was built with another model than the one asked for."""


class CancelledError(PmcSearchError):
    """A long job was cancelled by the user."""


class LibraryDamagedError(LibraryError, UserInputError):
    """The catalog is damaged (or was never finished); `pmc-search check --repair` salvages it."""


class UnfinishedLibraryError(LibraryDamagedError):
    """The folder holds a catalog whose creation was interrupted (no model recorded, nothing in it yet)."""


class LibraryReadOnlyError(LibraryError, UserInputError):
    """A change was asked of a library that can only be read (read-only folder or media, or opened read-only)."""


class LibraryVersionError(LibraryError, UserInputError):
    """The catalog's schema is newer than this program knows, or older and the library cannot be written."""


class StorageError(UserInputError):
    """The disk refused a write or a read: full, read-only, no permission, or failing. Nothing was half-written."""
