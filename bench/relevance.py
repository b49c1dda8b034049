"""Does search find the right figures, and does it say "no clear match" when nothing is relevant?

    python -m bench.relevance [--synthetic 2000] [--seed 2024] [--skip-synthetic]

Two libraries, both searched with the bundled demo model (resources/demo-model):
  - the demo library: the 121 bundled demo figures (11 kinds);
  - a synthetic library: `--synthetic` figures drawn by `trainer.synth` with a seed the demo model never saw.
A labelled query set asks for each figure kind in its own captions' words and in paraphrases; a figure is relevant
when it is of the kind asked for. It prints P@10, nDCG@10 and MRR for three rankings — vector only (match strength),
keyword only (FTS5 BM25 over captions) and hybrid (strength plus gated keyword evidence, what the app does) — then
the precision and recall of the "none" verdict for the nonsense queries (letter strings, other scripts, misspellings,
stop words, words the model does not know), and the best-score distributions that the verdict's thresholds rest on.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from app.demo import build_demo_library, demo_model_spec
from bench.machine_info import describe
from engine.library import Library, open_or_create
from engine.library.query_checks import MAX_LIMIT
from engine.progress import run_to_end
from engine.search.keywords import KeywordQuery, gather
from engine.types import MatchLevel, QueryTerm, SearchQuery

# kind -> queries: the first ones in the captions' own words, the later ones paraphrased.
QUERIES: dict[str, tuple[str, ...]] = {
    "chest_radiograph": ("chest radiograph", "chest x-ray with an opacity", "frontal chest film with a nodule",
                         "lung lesion on a radiograph"),
    "bone_radiograph": ("bone radiograph", "x-ray of a fractured long bone", "plain film of a bone shaft",
                        "transverse fracture"),
    "gel_electrophoresis": ("gel electrophoresis", "western blot", "gel with 6 lanes", "strongest band in lane 3"),
    "bar_chart": ("bar chart", "bar graph comparing treatment groups", "vertical bars",
                  "columns of mean expression"),
    "line_plot": ("line plot", "curve over time", "time-course with an increasing trend",
                  "line graph with oscillating signal"),
    "scatter_plot": ("scatter plot", "correlation between two markers", "dots showing a negative correlation",
                     "points with no correlation"),
    "pie_chart": ("pie chart", "proportions of categories", "pie chart with slices", "largest share of cases"),
    "he_micrograph": ("h&e stained section", "histology hematoxylin and eosin",
                      "photomicrograph of tissue with atypical nuclei", "tumour focus with dense nuclei"),
    "fluorescence_micrograph": ("fluorescence micrograph", "fluorescence micrograph with green cells",
                                "immunofluorescence", "confocal microscopy of labelled nuclei"),
    "ecg_trace": ("ecg", "electrocardiogram with tachycardia", "ecg strip showing bradycardia", "qrs complexes"),
    "flow_diagram": ("flow diagram", "study flowchart", "schematic workflow", "boxes connected by arrows"),
}
NONSENSE: tuple[str, ...] = (
    "zzqxv", "qwerty", "asdfgh jkl", "xkcd", "lorem ipsum dolor", "pneumothorax", "radiograhp", "meningioma",
    "covid pneumonia", "banana", "胸部 X線", "Грудная клетка", "the of", "a", "123", "!!!", "",
)
MODES = ("vector only", "keyword only", "hybrid")
DEPTH = 100  # ranks looked at for MRR


class Scores(NamedTuple):
    p10: float
    ndcg10: float
    rr: float


def score_ranking(ranked: list[int], relevant: set[int]) -> Scores:
    hits = [1.0 if figure_id in relevant else 0.0 for figure_id in ranked[:10]]
    dcg = sum(h / math.log2(n + 2) for n, h in enumerate(hits))
    ideal = sum(1.0 / math.log2(n + 2) for n in range(min(10, len(relevant))))
    first = next((n for n, figure_id in enumerate(ranked[:DEPTH], start=1) if figure_id in relevant), None)
    return Scores(sum(hits) / 10, dcg / ideal if ideal else 0.0, 1.0 / first if first else 0.0)


def ranking(library: Library, text: str, mode: str) -> list[int]:
    """The top DEPTH figure ids for `text` under one ranking (no verdict cut: the ranking itself is measured)."""
    if mode == "keyword only":
        with library._sessions() as session:  # the keyword half of the hybrid, alone
            ranks = gather(session, KeywordQuery.from_text(text), DEPTH, None).ranks
        return sorted(ranks, key=ranks.get)
    query = SearchQuery((QueryTerm(text),), limit=DEPTH, min_score=-1e9, hybrid=mode == "hybrid")
    return [r.figure_id for r in library.search(query).results]


def kinds_by_figure(library: Library) -> dict[int, str]:
    query = SearchQuery((QueryTerm("x"),), limit=MAX_LIMIT, min_score=-1e9, hybrid=False)
    page = library.search(query)
    if page.total_candidates > MAX_LIMIT:
        raise SystemExit(f"bench.relevance labels at most {MAX_LIMIT:,} figures")
    return {r.figure_id: r.image_path.name.rsplit("-", 1)[0] for r in page.results}


def evaluate(name: str, library: Library) -> bool:
    kinds = kinds_by_figure(library)
    print(f"\n## {name}: {len(kinds)} figures, {sum(len(q) for q in QUERIES.values())} labelled queries, "
          f"{len(NONSENSE)} nonsense queries")
    table: dict[str, list[Scores]] = {mode: [] for mode in MODES}
    for kind, queries in QUERIES.items():
        relevant = {figure_id for figure_id, k in kinds.items() if k == kind}
        for text in queries:
            for mode in MODES:
                table[mode].append(score_ranking(ranking(library, text, mode), relevant))
    print(f"{'ranking':<14} {'P@10':>6} {'nDCG@10':>8} {'MRR':>6}")
    means = {}
    for mode in MODES:
        rows = table[mode]
        means[mode] = tuple(statistics.fmean(getattr(s, f) for s in rows) for f in ("p10", "ndcg10", "rr"))
        print(f"{mode:<14} {means[mode][0]:6.3f} {means[mode][1]:8.3f} {means[mode][2]:6.3f}")
    better = all(h >= v - 1e-12 for h, v in zip(means["hybrid"], means["vector only"], strict=True))
    print(f"hybrid >= vector only on every metric: {'yes' if better else 'NO'}")
    report_verdicts(library)
    return better


def report_verdicts(library: Library) -> tuple[float, float]:
    """Prints, and returns, the precision and recall of the "none" verdict for the nonsense queries."""
    real = [q for queries in QUERIES.values() for q in queries]
    judged = {}
    for text in [*real, *NONSENSE]:
        page = library.search(SearchQuery((QueryTerm(text),), limit=10))
        judged[text] = page.verdict
    said_none = {t for t, v in judged.items() if v.level is MatchLevel.NONE}
    nonsense = set(NONSENSE)
    precision = len(said_none & nonsense) / len(said_none) if said_none else 0.0
    recall = len(said_none & nonsense) / len(nonsense)
    print(f'"none" verdict on nonsense queries: precision {precision:.3f}, recall {recall:.3f} '
          f"({len(said_none & nonsense)} of {len(nonsense)} nonsense judged none; "
          f"{len(said_none - nonsense)} of {len(real)} real queries judged none)")
    levels = {level: sum(1 for t in real if judged[t].level is level) for level in MatchLevel}
    print(f"real queries: {levels[MatchLevel.STRONG]} strong, {levels[MatchLevel.WEAK]} weak, "
          f"{levels[MatchLevel.NONE]} none")
    _distribution("best match strength, real queries", [judged[t].best_score for t in real])
    _distribution("best match strength, nonsense (vectors alone)", [_vector_best(library, t) for t in NONSENSE])
    for text in sorted(said_none - nonsense):
        print(f"  real query judged none: {text!r} (best {judged[text].best_score:.2f})")
    for text in sorted(nonsense - said_none):
        print(f"  nonsense not judged none: {text!r} -> {judged[text].level.value} ({judged[text].best_score:.2f})")
    return precision, recall


def _vector_best(library: Library, text: str) -> float | None:
    if not text.strip():
        return None
    page = library.search(SearchQuery((QueryTerm(text),), limit=1, min_score=-1e9, hybrid=False))
    return page.results[0].score if page.results else None


def _distribution(label: str, values: list[float | None]) -> None:
    known = sorted(v for v in values if v is not None)
    if known:
        print(f"{label}: min {known[0]:.2f} · median {statistics.median(known):.2f} · max {known[-1]:.2f}")


def synthetic_library(folder: Path, count: int, seed: int, factory: Callable | None = None) -> Library:
    """`count` figures drawn by trainer.synth (named KIND-NNNNN.png, caption beside) in one indexed library."""
    from trainer.synth import make_pair

    images = folder / "figures"
    images.mkdir(parents=True)
    for i in range(count):
        pair = make_pair(i, seed, 96)
        pair.image.save(images / f"{pair.kind}-{i:05d}.png", compress_level=3)
        (images / f"{pair.kind}-{i:05d}.txt").write_text(pair.caption, encoding="utf-8")
    spec = demo_model_spec()
    library = open_or_create(folder / "library", spec, factory)
    collection = library.add_collection(images, kind="folder", name="synthetic")
    run_to_end(library.ingest(collection.id, batch_size=64))
    return library


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synthetic", type=int, default=2000, help="figures in the synthetic library (2000)")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the synthetic figures (2024)")
    parser.add_argument("--skip-synthetic", action="store_true", help="only the demo library")
    args = parser.parse_args(argv)
    if demo_model_spec() is None:
        print("resources/demo-model is missing", file=sys.stderr)
        return 2
    print(describe())
    started = time.perf_counter()
    ok = True
    with tempfile.TemporaryDirectory(prefix="bench-relevance-") as tmp:
        with build_demo_library(Path(tmp) / "demo", demo_model_spec(), figures_dir=Path(tmp) / "demo-figures") as lib:
            ok &= evaluate("demo library", lib)
        if not args.skip_synthetic:
            with synthetic_library(Path(tmp) / "synthetic", args.synthetic, args.seed) as lib:
                ok &= evaluate(f"synthetic library (seed {args.seed})", lib)
    print(f"\n{time.perf_counter() - started:.0f} s; {describe()}")
    return 0 if ok else 1  # 1: hybrid fell below vector-only on some metric


if __name__ == "__main__":
    sys.exit(main())
