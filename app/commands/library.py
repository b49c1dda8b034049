"""`pmc-search index | query | info`: the library from a terminal, on the same engine API as the app.

    pmc-search --library DIR index FOLDER_OR_ARCHIVES... [--model NAME --weights W --tokenizer T --device D]
    pmc-search --library DIR index SOURCE --vectors SHARDS_DIR   # vectors from `embed-corpus`, nothing encoded
    pmc-search --library DIR query "chest x-ray with effusion" [-k 10] [--json] [--year-min 2015 ...]
    pmc-search --library DIR query --image scan.dcm --plus "MRI" --minus "CT"
    pmc-search --library DIR info

The model is fixed when a library is created and recorded in it; later runs reuse it. Queries open the library
read-only, so they work while the app has it open.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app.commands._arg_types import (
    MAX_BATCH,
    MAX_OFFSET,
    MAX_RESULTS,
    MAX_SCORE,
    MAX_WEIGHT,
    YEARS,
    bounded_float,
    bounded_int,
    text,
)
from app.match_text import modality_text, score_badge, unknown_words_text, why_text
from engine import paths
from engine.errors import UserInputError
from engine.text import display_text, path_to_text
from engine.types import (
    IngestReport,
    ModelSpec,
    QueryTerm,
    ScoreScale,
    SearchFilters,
    SearchPage,
    SearchQuery,
    SearchResult,
    SortOrder,
)

if TYPE_CHECKING:
    from engine.library import FigureLibrary

# The library stack (SQLAlchemy, numpy, hnswlib) is imported inside each command, not here: building the
# parser for `--help` or `--version` must stay instant.

MAX_PROBLEMS_LISTED = 50


def _library_dir(args) -> Path:
    return Path(args.library).expanduser() if args.library else paths.default_library_dir()


# ------------------------------------------------------------------------------------------------ index
def run_index(args) -> int:
    from engine.library import open_or_create

    sources = [Path(p) for p in args.paths]
    for source in sources:
        if not source.exists():
            raise UserInputError(f"{source} does not exist")
    if args.vectors and len(sources) != 1:
        raise UserInputError("--vectors imports one source at a time: give the SOURCE that embed-corpus read")
    folder = _library_dir(args)
    spec = ModelSpec(name=args.model or "pmc-clip", weights=args.weights, tokenizer=args.tokenizer)
    library = open_or_create(folder, spec, args.encoder_factory, device=args.device, require_model=args.model)
    with library:
        print(f"library {folder} · model {library.model_id} on {library.encoder.device}", file=sys.stderr)
        name = getattr(args, "collection_name", None)
        groups = [sources] if name else [[source] for source in sources]  # --collection-name: ONE collection
        reports = [(name or group[0].name, _index_source(library, group, args)) for group in groups]
        for name, report in reports:
            _print_report(name, report)
    return 0


def _index_source(library: FigureLibrary, sources: list[Path], args) -> IngestReport:
    from tqdm import tqdm

    from engine.progress import run_to_end

    source = sources[0] if len(sources) == 1 else sources
    collection = library.add_collection(source, kind=args.kind, name=getattr(args, "collection_name", None))
    if args.vectors:
        job = library.import_vectors(collection.id, Path(args.vectors))
    else:
        job = library.ingest(collection.id, batch_size=args.batch_size)
    with tqdm(desc=collection.name, unit="fig", file=sys.stderr, disable=args.quiet) as bar:

        def show(progress) -> None:
            if progress.total is not None and bar.total != progress.total:
                bar.total = progress.total
            bar.update(progress.done - bar.n)
            for problem in progress.errors:
                bar.write(f"  skipped {display_text(problem.path)}: {display_text(problem.message)}", file=sys.stderr)

        return run_to_end(job, show)


def _print_report(name: str, report: IngestReport) -> None:
    print(
        f"{display_text(name)}: {report.added} added, {report.reused} unchanged or reused, {report.removed} removed, "
        f"{report.failed} failed ({report.seconds:.1f} s)"
    )
    for problem in report.problems[:MAX_PROBLEMS_LISTED]:
        print(f"  problem: {display_text(problem.path)}: {display_text(problem.message)}")
    if len(report.problems) > MAX_PROBLEMS_LISTED:
        print(f"  … and {len(report.problems) - MAX_PROBLEMS_LISTED} more (see the app's library panel)")


# ------------------------------------------------------------------------------------------------ query
def _collection_ids(library: FigureLibrary, wanted_names: list[str]) -> list[int]:
    """Collections named by id or by name; an unknown one is the user's mistake, said plainly."""
    known = library.collections()
    ids = []
    for wanted in wanted_names:
        matches = [c.id for c in known if str(c.id) == wanted or c.name == wanted]
        if not matches:
            raise UserInputError(f"no collection named {wanted!r} (see `pmc-search info`)")
        ids.extend(matches)
    return ids


def _filters(args, library: FigureLibrary) -> SearchFilters:
    collection_ids = _collection_ids(library, args.collection) if args.collection else []
    return SearchFilters(
        collection_ids=tuple(collection_ids),
        year_min=args.year_min,
        year_max=args.year_max,
        journals=tuple(args.journal or ()),
        modalities=tuple(args.modality or ()),
        pmcids=tuple(args.pmcid or ()),
    )


def result_to_json(result: SearchResult, rank: int) -> dict:
    article = result.article
    why = result.why
    return {
        "rank": rank,
        "id": result.figure_id,
        "score": round(result.score, 6),
        "match": result.match.value,
        "similarity": round(why.similarity, 6),
        "path": path_to_text(result.image_path),  # lossless: a non-UTF-8 name comes as fsbytes:<percent-encoded>
        "caption": result.caption,
        "label": result.label,
        "collection": result.collection,
        "collections": list(result.collections),
        "modality": result.modality,
        "modality_confidence": result.modality_confidence,
        "article": None
        if article is None
        else {
            "pmcid": article.pmcid,
            "pmid": article.pmid,
            "doi": article.doi,
            "title": article.title,
            "journal": article.journal,
            "year": article.year,
            "license": article.license,
            "license_url": article.license_url,
            "authors": list(article.authors),
            "volume": article.volume,
            "issue": article.issue,
            "pages": article.pages,
        },
        "why": {
            "similarity": round(why.similarity, 6),
            "background": None if why.background is None else round(why.background, 6),
            "vector_score": None if why.vector_score is None else round(why.vector_score, 6),
            "keyword_bonus": round(why.keyword_bonus, 6),
            "matched_terms": list(why.matched_terms),
            "vector_rank": why.vector_rank,
            "keyword_rank": why.keyword_rank,
        },
    }


def verdict_to_json(page: SearchPage) -> dict:
    """The first line of `query --json`: the answer to "did anything match?" (README: What the numbers mean)."""
    verdict = page.verdict
    return {
        "verdict": verdict.level.value,
        "scale": verdict.scale.value,
        "best_score": None if verdict.best_score is None else round(verdict.best_score, 6),
        "message": verdict.message,
        "unknown_words": list(verdict.unknown_words),
        "ignored_words": list(verdict.ignored_words),
        "total": page.total_candidates,
    }


def _query_terms(args) -> list[QueryTerm]:
    terms = []
    if args.text is not None:  # an empty text is a query too: it is answered "no match", not refused
        terms.append(QueryTerm(text=args.text))
    if args.image:
        terms.append(QueryTerm(image=Path(args.image)))
    terms += [QueryTerm(text=t, weight=args.term_weight) for t in args.plus or ()]
    terms += [QueryTerm(text=t, weight=-args.term_weight) for t in args.minus or ()]
    if not terms:
        raise UserInputError("give query text or --image FILE")
    return terms


def run_query(args) -> int:
    from engine.library import is_library, open_or_create

    terms = _query_terms(args)
    folder = _library_dir(args)
    if not is_library(folder):
        raise UserInputError(f"there is no library at {folder}; build one with `pmc-search index FOLDER`")
    with open_or_create(folder, ModelSpec(), args.encoder_factory, device=args.device, read_only=True) as library:
        query = SearchQuery(
            terms=tuple(terms),
            filters=_filters(args, library),
            min_score=args.min_score,
            sort=SortOrder(args.sort),
            offset=args.offset,
            limit=args.k,
            hybrid=not args.no_keywords,
        )
        page = library.search(query)
    if args.json:
        print(json.dumps(verdict_to_json(page), ensure_ascii=False))
        for rank, result in enumerate(page.results, start=args.offset + 1):
            print(json.dumps(result_to_json(result, rank), ensure_ascii=False))
        return 0
    print(page.verdict.message)
    if page.verdict.unknown_words:
        print(unknown_words_text(page.verdict))
    for rank, result in enumerate(page.results, start=args.offset + 1):
        _print_result(rank, result, page.verdict.scale)
    print(f"{len(page.results)} of {page.total_candidates} shown ({page.elapsed_ms:.0f} ms)", file=sys.stderr)
    return 0


def _print_result(rank: int, result: SearchResult, scale: ScoreScale) -> None:
    caption = display_text((result.caption or "").replace("\n", " "))
    caption = caption if len(caption) <= 160 else caption[:157] + "…"
    article = result.article
    source = ""
    if article is not None:
        source = display_text(" · ".join(str(x) for x in (article.pmcid, article.journal, article.year) if x))
    modality = display_text(modality_text(result))
    print(f"{rank:>3}. [{result.figure_id}] {score_badge(result, scale)} · {display_text(result.image_path)}")
    if caption:
        print(f"     {caption}")
    details = [why_text(result, scale), source, modality]
    print("     " + " · ".join(d for d in details if d))
    if len(result.collections) > 1:
        print(f"     in collections: {', '.join(result.collections)}")


# ------------------------------------------------------------------------------------------------ info
def _device_line(requested: str) -> tuple[str | None, str | None]:
    from engine.models.device import choose_device  # torch: only for `info`, which reports the device

    try:
        choice = choose_device(requested)
    except UserInputError as e:
        return requested, str(e)
    return choice.device, choice.reason


def run_info(args) -> int:
    from engine.library import Library

    with Library.open(_library_dir(args), read_only=True) as library:
        info = library.info()
        problems = library.problems()
        spec = library.model_spec
    device, reason = _device_line(args.device)
    if args.json:
        print(
            json.dumps(
                {
                    "path": str(info.path),
                    "model": {"name": spec.name, "weights": spec.weights, "tokenizer": spec.tokenizer},
                    "model_id": info.model_id,
                    "dim": info.dim,
                    "figures": info.figures,
                    "articles": info.articles,
                    "index_size": info.index_size,
                    "problems": len(problems),
                    "collections": [c.__dict__ for c in info.collections],
                    "device": device,
                    "device_reason": reason,
                },
                ensure_ascii=False,
            )
        )
        return 0
    print(f"library:     {info.path}")
    print(f"model:       {spec.name} ({info.model_id}, {info.dim}-d vectors)")
    if spec.weights:
        print(f"weights:     {spec.weights}")
    print(f"figures:     {info.figures} in {len(info.collections)} collection(s), {info.articles} article(s)")
    print(f"index:       {info.index_size} vectors")
    for c in info.collections:
        articles = f" from {c.articles} article(s)" if c.articles else ""
        state = " — INCOMPLETE (run `pmc-search index` on it again to resume)" if c.status == "incomplete" else ""
        where = display_text(c.source if len(c.sources) <= 1 else f"{len(c.sources)} sources, first {c.source}")
        print(f"  [{c.id}] {display_text(c.name)} ({c.kind}): {c.figures} figures{articles} from {where}{state}")
    if problems:
        print(f"problems:    {len(problems)} file(s) skipped at the last ingest")
    if device:
        print(f"device:      {device} — {reason}")
    return 0


# ------------------------------------------------------------------------------------------------ remove
def run_remove(args) -> int:
    from engine.library import Library

    with Library.open(_library_dir(args)) as library:
        by_id = {c.id: c for c in library.collections()}
        for collection_id in dict.fromkeys(_collection_ids(library, args.collections)):
            library.remove_collection(collection_id)
            removed = by_id[collection_id]
            name = display_text(removed.name)
            print(f"removed [{removed.id}] {name}: {removed.figures} figures no longer in results")
    return 0


# ------------------------------------------------------------------------------------------------ parsers
def register(subparsers) -> None:
    index = subparsers.add_parser("index", help="add folders, PMC packages or data sets to the library and index them")
    index.add_argument("paths", nargs="+", metavar="PATH", help="image folder, PMC article package(s), jsonl or ROCO")
    index.add_argument("--kind", default="auto", choices=["auto", "folder", "pmc", "pmc-oa", "roco"])
    index.add_argument(
        "--collection-name", metavar="NAME", help="index all PATHs as ONE collection called NAME (e.g. packages "
        "downloaded together); without it each PATH is its own collection"
    )
    index.add_argument("--model", help="model for a new library (default pmc-clip); fixed once the library exists")
    index.add_argument("--weights", help="local checkpoint file or folder for a new library")
    index.add_argument("--tokenizer", help="local tokenizer folder (vocab.txt) for a new library")
    index.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    index.add_argument("--batch-size", type=bounded_int(1, MAX_BATCH), default=32)
    index.add_argument(
        "--vectors", metavar="DIR", help="take the vectors from `embed-corpus --out DIR` shards instead of encoding"
    )
    index.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    index.set_defaults(run=run_index)

    query = subparsers.add_parser("query", help="search the library by text and/or image")
    query.add_argument("text", nargs="?", type=text, help="what to look for, in words")
    query.add_argument("--image", metavar="FILE", help="an image (PNG, JPEG, TIFF, DICOM …) to find similar figures")
    query.add_argument("--plus", action="append", type=text, metavar="TEXT", help="add a concept (repeatable)")
    query.add_argument("--minus", action="append", type=text, metavar="TEXT", help="subtract a concept (repeatable)")
    query.add_argument("--term-weight", type=bounded_float(0.0, MAX_WEIGHT), default=0.5,
                       help="weight of --plus/--minus terms (0.5)")
    query.add_argument("-k", type=bounded_int(1, MAX_RESULTS), default=10, help="number of results (10)")
    query.add_argument("--offset", type=bounded_int(0, MAX_OFFSET), default=0, help="skip this many results (paging)")
    query.add_argument(
        "--json", action="store_true", help="a first line with the verdict, then one JSON object per result per line"
    )
    query.add_argument("--year-min", type=bounded_int(*YEARS))
    query.add_argument("--year-max", type=bounded_int(*YEARS))
    query.add_argument("--journal", action="append", type=text, help="only this journal (repeatable)")
    query.add_argument("--modality", action="append", type=text, help="only this modality, e.g. CT (repeatable)")
    query.add_argument("--collection", action="append", type=text, help="only this collection, by id or name")
    query.add_argument("--pmcid", action="append", type=text, help="only figures of this article (repeatable)")
    query.add_argument(
        "--min-score",
        type=bounded_float(-MAX_SCORE, MAX_SCORE),
        help="keep only results scoring at least this on the shown scale (match strength for text, e.g. 3; "
        "closeness 0-100 for images); by default strong and weak matches, or the 3 closest when none stands out",
    )
    query.add_argument("--sort", default=SortOrder.RELEVANCE.value, choices=[s.value for s in SortOrder])
    query.add_argument("--no-keywords", action="store_true", help="rank by image similarity only (no caption match)")
    query.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps")
    query.set_defaults(run=run_query)

    info = subparsers.add_parser("info", help="what the library holds, its model and the compute device")
    info.add_argument("--json", action="store_true")
    info.add_argument("--device", default="auto", help="device to report on (auto)")
    info.set_defaults(run=run_info)

    remove = subparsers.add_parser("remove", help="remove collections (and their figures) from the library")
    remove.add_argument("collections", nargs="+", type=text, metavar="COLLECTION", help="collection id or name")
    remove.set_defaults(run=run_remove)
