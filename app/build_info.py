"""Which version and commit this program is: baked into a bundle at build time, read from git in a source tree.

`pmc-search --version` and the About box show `describe()`. A bundle cannot ask git (there is no checkout beside
it), so `build.spec` writes `resources/build-info.json` into the bundle with the values of the tree it was built
from; a source tree asks git each time, so an edited checkout says "-dirty" instead of passing for a release.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

from engine import __version__, paths

logger = logging.getLogger(__name__)

BUILD_INFO_FILE = "build-info.json"
UNKNOWN = "unknown"
_GIT_TIMEOUT_S = 5


@dataclass(frozen=True)
class BuildInfo:
    version: str
    commit: str
    variant: str = "source"  # "source" (a checkout), or the bundle's torch flavour: "cpu" / "cuda"

    def describe(self) -> str:
        return f"{self.version} (commit {self.commit}, {self.variant} build)"


def git_commit(root: Path) -> str:
    """The short commit of the checkout at `root`, with "-dirty" when tracked files changed; "unknown" without git."""
    try:
        head = _git(root, "rev-parse", "--short=12", "HEAD")
        changed = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError) as error:
        logger.debug("no git commit for %s: %s", root, error)
        return UNKNOWN
    return f"{head}-dirty" if changed else head


def _git(root: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=_GIT_TIMEOUT_S, check=True
    )
    return result.stdout.strip()


def source_build_info(root: Path | None = None, variant: str = "source") -> BuildInfo:
    return BuildInfo(version=__version__, commit=git_commit(root or paths.install_root()), variant=variant)


def write_build_info(target: Path, info: BuildInfo) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(asdict(info), indent=2) + "\n", encoding="utf-8")


def read_build_info(path: Path) -> BuildInfo | None:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return BuildInfo(version=str(raw["version"]), commit=str(raw["commit"]), variant=str(raw["variant"]))
    except (OSError, ValueError, KeyError, TypeError) as error:
        logger.warning("unreadable build info %s: %s", path, error)
        return None


@cache
def build_info() -> BuildInfo:
    """What this running program is; in a bundle, what was baked in (falling back to "unknown", never to git)."""
    if getattr(sys, "frozen", False):
        baked = read_build_info(paths.resource_path(BUILD_INFO_FILE))
        return baked or BuildInfo(version=__version__, commit=UNKNOWN, variant=UNKNOWN)
    return source_build_info()


def describe() -> str:
    return build_info().describe()
