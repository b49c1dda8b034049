"""The stamp that says which catalog state an index file belongs to, kept in a JSON file beside the index.

The catalog is the source of truth; the index is a cache. A stamp that disagrees with the catalog (another model,
dimension, space, or an older catalog generation) means "rebuild", never "use it anyway".
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.fileio import atomic_write_bytes

logger = logging.getLogger(__name__)

STAMP_FORMAT = 1


@dataclass(frozen=True)
class IndexStamp:
    model_id: str
    dim: int
    space: str
    generation: int  # the catalog generation the index was built from; bumped on every catalog change


def stamp_path(index_path: Path) -> Path:
    return index_path.with_name(index_path.name + ".stamp.json")


def write_stamp(index_path: Path, stamp: IndexStamp, extra: dict[str, Any]) -> None:
    payload = {"format": STAMP_FORMAT, "stamp": asdict(stamp), **extra}
    atomic_write_bytes(stamp_path(index_path), json.dumps(payload).encode("utf-8"))


def read_stamp(index_path: Path) -> tuple[IndexStamp, dict[str, Any]] | None:
    """The stamp and its extra fields, or None when the file is missing or unreadable."""
    path = stamp_path(index_path)
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        if payload.get("format") != STAMP_FORMAT:
            return None
        raw = payload["stamp"]
        stamp = IndexStamp(str(raw["model_id"]), int(raw["dim"]), str(raw["space"]), int(raw["generation"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        logger.warning("ignoring unreadable index stamp %s: %s", path, e)
        return None
    return stamp, payload
