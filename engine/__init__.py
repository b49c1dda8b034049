"""The engine: models, embedding, ingestion, catalog, index and search.

A pure library: it never imports Qt, argparse or the `app`/`trainer` packages, never prints and never
configures logging. Progress leaves it as yielded values or callbacks, errors as `engine.errors` exceptions.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pmc-figure-search")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
