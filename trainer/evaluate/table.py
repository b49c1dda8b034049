"""Markdown tables with the paper's rows beside ours and beside every other model evaluated (`eval all`).

Input: the JSON documents `eval all` writes (one per model). Numbers are percentages with two decimals, as in the
paper; a cell with no result is "–". Our rows say how they were obtained (protocol, method, mode), because only
the retrieval `reference` protocol is the paper's own; the MedMNIST and VQA protocols are ours.
"""

from __future__ import annotations

import math

from trainer.evaluate import paper

DASH = "–"


def _pct(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return DASH
    return f"{100 * value:.2f}"


def _table(title: str, columns: tuple[str, ...], rows: list[tuple[str, str, list[str]]]) -> list[str]:
    out = [f"### {title}", "", "| model | source | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    out += [f"| {name} | {source} | " + " | ".join(cells) + " |" for name, source, cells in rows]
    return out + [""]


def _paper_rows(numbers: dict[str, tuple[float, ...]]) -> list[tuple[str, str, list[str]]]:
    return [(name, "paper", [f"{v:.2f}" for v in values]) for name, values in numbers.items()]


def _model_name(doc: dict) -> str:
    return doc.get("model", {}).get("id") or doc.get("model", {}).get("model", "?")


def retrieval_rows(doc: dict, dataset: str) -> list[tuple[str, str, list[str]]]:
    result = doc.get("metrics", {}).get("retrieval", {}).get(dataset)
    if not result or "image_to_text" not in result:
        return []
    cells = [_pct(result[d][f"R@{k}"]) for d in ("image_to_text", "text_to_image") for k in (1, 5, 10)]
    return [(_model_name(doc), f"ours, {result['protocol']} ({result['scored']} pairs)", cells)]


def medmnist_rows(doc: dict) -> list[tuple[str, str, list[str]]]:
    results = doc.get("metrics", {}).get("medmnist", {})
    rows = []
    for method in ("zero_shot", "linear_probe", "fine_tune"):
        cells, seen = [], False
        for flag in paper.MEDMNIST_SUBSETS:
            m = results.get(flag, {}).get(method)
            seen |= m is not None
            cells += [_pct(m and m.get("auc")), _pct(m and m.get("acc"))]
        if seen:
            rows.append((_model_name(doc), f"ours, {method}", cells))
    return rows


def vqa_rows(doc: dict) -> list[tuple[str, str, list[str]]]:
    results = doc.get("metrics", {}).get("vqa", {})
    if not results:
        return []
    cells, modes = [], set()
    for dataset in ("vqa-rad", "slake"):
        m = results.get(dataset) or {}
        modes.add(m.get("mode"))
        cells += [_pct(m.get(k)) for k in ("open", "closed", "overall")]
    return [(_model_name(doc), "ours, " + "/".join(sorted(x for x in modes if x)) + " head", cells)]


def render(docs: list[dict]) -> str:
    """The full markdown: ROCO retrieval, PMC-OA retrieval (no paper numbers), MedMNIST, VQA."""
    lines = ["# PMC-CLIP evaluation: the paper's numbers beside ours", ""]
    lines += _table(
        "Image–text retrieval, ROCO test (%)",
        paper.RETRIEVAL_COLUMNS,
        _paper_rows(paper.RETRIEVAL) + [r for d in docs for r in retrieval_rows(d, "roco")],
    )
    pmc_rows = [r for d in docs for r in retrieval_rows(d, "pmc-oa")]
    if pmc_rows:
        lines += _table(
            "Image–text retrieval, PMC-OA test (%; the paper gives no table)", paper.RETRIEVAL_COLUMNS, pmc_rows
        )
    lines += _table(
        "MedMNIST (%)",
        paper.MEDMNIST_COLUMNS,
        _paper_rows(paper.MEDMNIST) + [r for d in docs for r in medmnist_rows(d)],
    )
    lines += _table(
        "Medical VQA accuracy (%)", paper.VQA_COLUMNS, _paper_rows(paper.VQA) + [r for d in docs for r in vqa_rows(d)]
    )
    lines.append(
        "Paper rows: pmc-clip.md §5. Ours: `pmc-trainer eval all`; protocols in the README (Trainer → Evaluation)."
    )
    return "\n".join(lines) + "\n"
