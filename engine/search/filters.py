"""Search filters as one SQL condition over figures `f` left-joined with articles `a`.

Values are always bound parameters; the only text interpolated is generated placeholder names.
"""

from __future__ import annotations

from typing import Any

from engine.types import SearchFilters

FROM_CLAUSE = "figures f LEFT JOIN articles a ON a.id = f.article_id"


def _in(column: str, values: tuple, prefix: str, params: dict[str, Any]) -> str:
    names = []
    for i, value in enumerate(values):
        name = f"{prefix}{i}"
        params[name] = value
        names.append(f":{name}")
    return f"{column} IN ({', '.join(names)})"


def is_empty(filters: SearchFilters | None) -> bool:
    return filters is None or filters == SearchFilters()


def where_clause(filters: SearchFilters | None) -> tuple[str, dict[str, Any]]:
    """('cond AND cond ...' or '1=1', bound parameters)."""
    params: dict[str, Any] = {}
    conditions: list[str] = []
    if filters is not None:
        if filters.collection_ids:
            conditions.append(_in("f.collection_id", tuple(int(c) for c in filters.collection_ids), "col", params))
        if filters.year_min is not None:
            conditions.append("a.year >= :year_min")
            params["year_min"] = int(filters.year_min)
        if filters.year_max is not None:
            conditions.append("a.year <= :year_max")
            params["year_max"] = int(filters.year_max)
        if filters.journals:
            conditions.append(_in("a.journal", tuple(filters.journals), "jn", params))
        if filters.modalities:
            conditions.append(_in("f.modality", tuple(filters.modalities), "mod", params))
        if filters.pmcids:
            pmcids = tuple(p if p.upper().startswith("PMC") else f"PMC{p}" for p in filters.pmcids)
            conditions.append(_in("a.pmcid", pmcids, "pmc", params))
    return (" AND ".join(conditions) or "1=1"), params
