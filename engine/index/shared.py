"""`SharedVectorIndex`: ids whose vectors are identical share one node of the HNSW graph.

Thousands of figures can carry the same image (a publisher logo, a figure reprinted in every article of a
series); their vectors are bit-for-bit equal. Inserted as separate nodes they break the graph: each duplicate's
neighbour list fills with the other duplicates (distance 0), the rest of the graph becomes unreachable from
them, ef tuning climbs to its ceiling with recall near 0, and unrelated queries that enter there come back with
nothing but copies (measured: 3,000 copies among 500 other vectors gave recall@10 0.015 at ef 1024 and 6.5
copies in the top 10 of unrelated queries).

So one id of each group (the "lead") is in the graph and the others are aliases of it. A search walks the graph
and expands each lead into its group; deleting a lead promotes an alias in its place. Which ids share a vector
is decided by the caller (the library knows the content hash of every figure), so this module stays a pure
index of integer ids. Only duplicates cost memory here: an id with a vector of its own has no entry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

import numpy as np

from engine.index.hnsw import VectorIndex
from engine.index.stamp import IndexStamp

logger = logging.getLogger(__name__)


class SharedVectorIndex:
    def __init__(self, graph: VectorIndex, aliases: Mapping[int, int] | None = None):
        self.graph = graph
        self._lead_of: dict[int, int] = {}
        self._members: dict[int, set[int]] = {}
        for alias, lead in (aliases or {}).items():
            self._link(int(alias), int(lead))

    def _link(self, alias: int, lead: int) -> None:
        self._lead_of[alias] = lead
        self._members.setdefault(lead, set()).add(alias)

    # ------------------------------------------------------------------------------------------- facts
    @property
    def dim(self) -> int:
        return self.graph.dim

    @property
    def space(self) -> str:
        return self.graph.space

    @property
    def reduced_dim(self) -> int | None:
        return self.graph.reduced_dim

    @property
    def ef(self) -> int:
        return self.graph.ef

    @ef.setter
    def ef(self, value: int) -> None:
        self.graph.ef = value

    @property
    def aliases(self) -> dict[int, int]:
        return dict(self._lead_of)

    def __len__(self) -> int:
        return len(self.graph) + len(self._lead_of)

    def __contains__(self, item: object) -> bool:
        return item in self.graph or item in self._lead_of

    def ids(self) -> np.ndarray:
        ids = self.graph.ids()
        if not self._lead_of:
            return ids
        return np.union1d(ids, np.fromiter(self._lead_of, dtype=np.int64, count=len(self._lead_of)))

    def tune_ef(self, *args, **kwargs) -> int:
        return self.graph.tune_ef(*args, **kwargs)

    # ------------------------------------------------------------------------------------------- writes
    def add(self, ids: np.ndarray, vectors: np.ndarray, lead_of: Mapping[int, int] | None = None) -> None:
        """Add vectors under ids; `lead_of` maps an id to the id whose identical vector it shares (that lead is
        in this batch or already here). Ids not in `lead_of` get their own node. Re-adding an id replaces it."""
        ids_arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        vecs = np.asarray(vectors, dtype=np.float32).reshape(len(ids_arr), -1)
        lead_of = {int(a): int(b) for a, b in (lead_of or {}).items() if int(a) != int(b)}
        present = [i for i in ids_arr.tolist() if i in self]
        if present:
            self.delete(present)
        own = np.fromiter((i not in lead_of for i in ids_arr.tolist()), dtype=bool, count=len(ids_arr))
        if own.any():
            self.graph.add(ids_arr[own], vecs[own])
        for alias in ids_arr[~own].tolist():
            lead = self._lead_of.get(lead_of[alias], lead_of[alias])
            if lead in self.graph:
                self._link(alias, lead)
            else:  # the lead is gone (a race with a delete): the alias takes a node of its own
                logger.debug("lead %d of %d is not in the index; adding it on its own", lead, alias)
                row = int(np.flatnonzero(ids_arr == alias)[0])
                self.graph.add(ids_arr[row : row + 1], vecs[row : row + 1])

    def delete(self, ids: Iterable[int] | np.ndarray) -> None:
        """Remove ids; a lead's vector stays in the graph under the next member of its group."""
        for raw in np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64).reshape(-1):
            figure_id = int(raw)
            lead = self._lead_of.pop(figure_id, None)
            if lead is not None:
                self._unlink(figure_id, lead)
            elif figure_id in self._members:
                self._promote(figure_id)
            else:
                self.graph.delete([figure_id])

    def _unlink(self, alias: int, lead: int) -> None:
        members = self._members[lead]
        members.discard(alias)
        if not members:
            del self._members[lead]

    def _promote(self, lead: int) -> None:
        members = self._members.pop(lead)
        heir = min(members)
        vector = self.graph.vectors([lead])
        self.graph.delete([lead])
        self.graph.add(np.asarray([heir], dtype=np.int64), vector)
        del self._lead_of[heir]
        for alias in members - {heir}:
            self._link(alias, heir)

    # ------------------------------------------------------------------------------------------- search
    def search(
        self, queries: np.ndarray, k: int, allowed: Callable[[int], bool] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like VectorIndex.search, each graph hit expanded into the ids that share its vector."""
        if not self._lead_of:
            return self.graph.search(queries, k, allowed)
        graph_allowed = None
        if allowed is not None:
            def graph_allowed(lead: int) -> bool:
                return allowed(lead) or any(allowed(a) for a in self._members.get(lead, ()))

        labels, sims = self.graph.search(queries, k, graph_allowed)
        k_eff = min(int(k), len(self))
        out_ids = np.full((len(labels), k_eff), -1, dtype=np.int64)
        out_sims = np.full((len(labels), k_eff), -np.inf, dtype=np.float32)
        for row, (row_ids, row_sims) in enumerate(zip(labels, sims, strict=True)):
            expanded = self._expand(row_ids.tolist(), row_sims.tolist(), allowed, k_eff)
            for col, (figure_id, sim) in enumerate(expanded):
                out_ids[row, col], out_sims[row, col] = figure_id, sim
        return out_ids, out_sims

    def _expand(
        self, leads: list[int], sims: list[float], allowed: Callable[[int], bool] | None, k: int
    ) -> list[tuple[int, float]]:
        out: list[tuple[int, float]] = []
        for lead, sim in zip(leads, sims, strict=True):
            if lead < 0:
                break
            for figure_id in (lead, *sorted(self._members.get(lead, ()))):
                if allowed is None or allowed(figure_id):
                    out.append((figure_id, sim))
                    if len(out) == k:
                        return out
        return out

    # ------------------------------------------------------------------------------------------- persistence
    def save(self, path: Path, stamp: IndexStamp) -> None:
        aliases = sorted(self._lead_of.items())
        self.graph.save(path, stamp, extra={"aliases": [list(pair) for pair in aliases]})

    @classmethod
    def load(cls, path: Path, expected: IndexStamp) -> SharedVectorIndex | None:
        graph = VectorIndex.load(path, expected)
        if graph is None:
            return None
        try:
            aliases = {int(a): int(b) for a, b in graph.saved_extra.get("aliases", [])}
        except (TypeError, ValueError):
            logger.warning("index %s has unreadable alias groups; ignoring it", path)
            return None
        if any(lead not in graph for lead in aliases.values()):
            logger.warning("index %s has aliases of ids it does not hold; ignoring it", path)
            return None
        return cls(graph, aliases)
