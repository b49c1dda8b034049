"""`pmc-trainer eval retrieval|medmnist|vqa|all`: the paper's evaluations for any engine model.

    pmc-trainer eval retrieval --model pmc-clip --roco data/roco --protocol reference      # the paper's ROCO setting
    pmc-trainer eval retrieval --model biomedclip --data data/pmc-oa/test.jsonl --protocol full --bootstrap 1000
    pmc-trainer eval medmnist --model local-dir:models/mine --data data/medmnist --subset dermamnist
    pmc-trainer eval vqa --model pmc-clip --data data/slake --dataset slake [--mode fine_tune]
    pmc-trainer eval all --model pmc-clip --data-root data --out results        # → results/<model>.json, results.md
    torchrun --nproc_per_node 4 -m trainer eval all --model pmc-clip --data-root data   # encoding sharded

--model takes a registry name (pmc-clip, pmc-clip-notebook, biomedclip), open_clip:ARCH/TAG, hf-hub:ORG/REPO or
local-dir:PATH (an exported run). Every command prints a summary, or JSON with --json (keys name the method —
zero_shot, linear_probe, fine_tune — and the metric — acc, auc, R@10, open, closed, overall; values are fractions).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from tqdm import tqdm


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="the paper's evaluations (retrieval, MedMNIST, VQA, all) for any model",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    verbs = parser.add_subparsers(dest="eval_command", metavar="EVALUATION", required=True)
    _retrieval_parser(verbs)
    _medmnist_parser(verbs)
    _vqa_parser(verbs)
    _all_parser(verbs)


def _model_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", required=True, help="registry name, open_clip:ARCH/TAG, hf-hub:…, local-dir:PATH")
    group.add_argument("--weights", help="weights file/folder for registry models (default: downloaded)")
    group.add_argument("--tokenizer", help="tokenizer folder for PMC-CLIP registry models")
    group.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N (under torchrun: one GPU per rank)")
    group.add_argument("--encode-batch", type=int, help="encoder batch size (default: the engine's per device)")
    group.add_argument("--offline", action="store_true", help="no downloads; name what is missing")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _retrieval_args(parser: argparse.ArgumentParser, *, standalone: bool) -> None:
    group = parser.add_argument_group("retrieval")
    group.add_argument("--protocol", default="reference", choices=("reference", "fixed2k", "full"))
    group.add_argument(
        "--ties",
        default="official",
        choices=("official", "pessimistic"),
        help="rank rule: official = the reference's argsort position (default)",
    )
    group.add_argument("--bootstrap", type=int, default=0, metavar="N", help="95%% CIs from N resamples of queries")
    group.add_argument(
        "--retrieval-batch",
        type=int,
        default=32,
        help="the reference's eval batch size: its drop_last decides how many pairs are scored (32)",
    )
    group.add_argument("--seed", type=int, default=0, help="the reference draw's seed (0, as the official code)")
    if standalone:
        group.add_argument("--ids", help="fixed2k: a file of ids (one a line) instead of the shipped list")


def _retrieval_parser(verbs) -> None:
    p = verbs.add_parser("retrieval", help="image↔text R@1/5/10, mean/median rank (ROCO test or a jsonl)")
    _model_args(p)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--roco", metavar="DIR", help="a fetched ROCO folder (or its data/<split>/<class> folder)")
    source.add_argument("--data", metavar="FILE", help="a .jsonl/.csv of image/caption pairs (e.g. PMC-OA test.jsonl)")
    p.add_argument("--image-root", help="--data: folder the image names are relative to")
    p.add_argument("--split", default="test", help="--roco: split (test)")
    p.add_argument("--roco-class", default="radiology", help="--roco: radiology or non-radiology")
    _retrieval_args(p, standalone=True)
    p.set_defaults(run=run_retrieval)


def _medmnist_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("MedMNIST")
    group.add_argument("--methods", default="zero_shot,linear_probe,fine_tune", help="comma-separated")
    group.add_argument("--fine-tune-epochs", type=int, default=10)
    group.add_argument("--fine-tune-batch", type=int, default=64)
    group.add_argument("--fine-tune-lr", type=float, default=1e-5, help="image tower lr (head: 100×)")
    group.add_argument("--workers", type=int, default=2, help="data-loading workers for fine-tuning")


def _medmnist_parser(verbs) -> None:
    p = verbs.add_parser("medmnist", help="zero-shot, linear probe, fine-tune on a MedMNIST 2D subset (ACC, AUC)")
    _model_args(p)
    p.add_argument("--data", required=True, metavar="DIR", help="folder with the subset's .npz")
    p.add_argument("--subset", required=True, help="e.g. pneumoniamnist, breastmnist, dermamnist, chestmnist")
    p.add_argument("--size", type=int, help="28, 64, 128 or 224 (default: the largest present)")
    _medmnist_args(p)
    p.set_defaults(run=run_medmnist)


def _vqa_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("VQA")
    group.add_argument("--mode", default="frozen", choices=("frozen", "fine_tune"))
    group.add_argument("--vqa-epochs", type=int, help="default 60 frozen, 15 fine_tune")
    group.add_argument("--vqa-batch", type=int, default=64)


def _vqa_parser(verbs) -> None:
    p = verbs.add_parser("vqa", help="answer classification on VQA-RAD (MEVF split) or SLAKE (en): open/closed/overall")
    _model_args(p)
    p.add_argument("--data", required=True, metavar="DIR")
    p.add_argument("--dataset", required=True, choices=("vqa-rad", "slake"))
    _vqa_args(p)
    p.set_defaults(run=run_vqa)


def _all_parser(verbs) -> None:
    p = verbs.add_parser("all", help="every evaluation whose data is under --data-root; one JSON + a markdown table")
    _model_args(p)
    p.add_argument(
        "--data-root", required=True, metavar="DIR", help="holds roco/, pmc-oa/, medmnist/, vqa-rad/, slake/"
    )
    p.add_argument("--out", default="results", help="folder for <model>.json and results.md (default results/)")
    p.add_argument("--compare", nargs="*", default=[], metavar="JSON", help="other models' eval-all JSONs to tabulate")
    p.add_argument("--pmc-oa-file", default="test.jsonl", help="the PMC-OA row file to retrieve on (test.jsonl)")
    _retrieval_args(p, standalone=False)
    _medmnist_args(p)
    _vqa_args(p)
    p.set_defaults(run=run_all)


# ------------------------------------------------------------------------------------------------------ running


def _spec(args):
    from trainer.evaluate.encode import ModelSpec

    return ModelSpec(args.model, args.weights, args.tokenizer, args.device, args.encode_batch, args.offline)


def _distributed(args):
    from trainer.distributed import init_distributed

    if int(os.environ.get("RANK", "0")) != 0:
        logging.getLogger().setLevel(logging.WARNING)  # only rank 0 talks
    kind = "cuda" if args.device.startswith("cuda") else ("cpu" if args.device == "cpu" else "auto")
    # Fine-tuning runs on rank 0 while the others wait in a broadcast: allow far longer than the default 30 min.
    return init_distributed(kind, timeout_minutes=24 * 60)


def _emit(args, dist_info, result: dict, lines) -> None:
    if not dist_info.is_main:
        return
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print("\n".join(lines(result)))


class EncodingBar:
    def __init__(self, enabled: bool):
        self.bar = None
        self.enabled = enabled

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if self.bar is None or self.bar.total != total or done < self.bar.n:
            self.close()
            self.bar = tqdm(total=total, desc="encoding", unit="item", file=sys.stderr, disable=None)
        self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _with_group(args, work):
    from trainer.distributed import cleanup

    dist_info = _distributed(args)
    bar = EncodingBar(dist_info.is_main and not args.json)
    try:
        return dist_info, work(dist_info, bar)
    finally:
        bar.close()
        cleanup()


def run_retrieval(args: argparse.Namespace) -> int:
    from trainer.evaluate.encode import create_eval_encoder
    from trainer.evaluate.retrieval import evaluate_retrieval, format_result, jsonl_set, roco_set

    data = roco_set(args.roco, args.split, args.roco_class) if args.roco else jsonl_set(args.data, args.image_root)

    def work(dist_info, bar):
        encoder = create_eval_encoder(_spec(args), dist_info)
        return evaluate_retrieval(
            encoder,
            data,
            protocol=args.protocol,
            ties=args.ties,
            batch_size=args.retrieval_batch,
            seed=args.seed,
            ids_file=args.ids,
            bootstrap=args.bootstrap,
            dist_info=dist_info,
            progress=bar,
        )

    dist_info, result = _with_group(args, work)
    _emit(args, dist_info, {"model": args.model, **result}, format_result)
    return 0


def _fine_tune_settings(args):
    from trainer.evaluate.medmnist_eval import FineTuneSettings

    return FineTuneSettings(
        epochs=args.fine_tune_epochs,
        batch_size=args.fine_tune_batch,
        tower_lr=args.fine_tune_lr,
        head_lr=100 * args.fine_tune_lr,
        num_workers=args.workers,
    )


def _vqa_settings(args):
    from trainer.evaluate.vqa_eval import VqaSettings

    return VqaSettings(mode=args.mode, epochs=args.vqa_epochs, batch_size=args.vqa_batch)


def _methods(args) -> tuple[str, ...]:
    return tuple(m.strip() for m in args.methods.split(",") if m.strip())


def run_medmnist(args: argparse.Namespace) -> int:
    from trainer.datasets import medmnist
    from trainer.evaluate.medmnist_eval import evaluate_medmnist

    data = medmnist.load(medmnist.find_file(args.data, args.subset.lower(), args.size))

    def work(dist_info, bar):
        return evaluate_medmnist(
            _spec(args),
            data,
            methods=_methods(args),
            settings=_fine_tune_settings(args),
            dist_info=dist_info,
            progress=bar,
        )

    dist_info, result = _with_group(args, work)
    _emit(args, dist_info, {"model": args.model, **result}, _medmnist_lines)
    return 0


def _medmnist_lines(result: dict) -> list[str]:
    lines = [
        f"{result['model']} on {result['subset']} ({result['size']} px, {result['task']}, test n={result['n_test']})"
    ]
    for method in ("zero_shot", "linear_probe", "fine_tune"):
        if method in result:
            m = result[method]
            lines.append(f"  {method:13s} ACC {100 * m['acc']:.2f}  AUC {100 * m['auc']:.2f}")
    return lines + [f"  note: {n}" for n in result.get("notes", [])]


def run_vqa(args: argparse.Namespace) -> int:
    from trainer.evaluate.vqa_eval import evaluate_vqa

    def work(dist_info, bar):
        return evaluate_vqa(
            _spec(args), args.dataset, args.data, settings=_vqa_settings(args), dist_info=dist_info, progress=bar
        )

    dist_info, result = _with_group(args, work)
    _emit(args, dist_info, {"model": args.model, **result}, _vqa_lines)
    return 0


def _vqa_lines(result: dict) -> list[str]:
    return [
        f"{result['model']} on {result['dataset']} ({result['mode']} head, {result['n_answers']} answer classes)",
        f"  open {100 * result['open']:.2f} (n={result['n_open']})  closed {100 * result['closed']:.2f} "
        f"(n={result['n_closed']})  overall {100 * result['overall']:.2f} (n={result['n_overall']})",
    ]


def run_all(args: argparse.Namespace) -> int:
    from trainer.evaluate.suite import SuiteSettings, run_all, write_outputs

    settings = SuiteSettings(
        protocol=args.protocol,
        ties=args.ties,
        bootstrap=args.bootstrap,
        retrieval_batch=args.retrieval_batch,
        pmc_oa_file=args.pmc_oa_file,
        medmnist_methods=_methods(args),
        fine_tune=_fine_tune_settings(args),
        vqa=_vqa_settings(args),
    )

    def work(dist_info, bar):
        return run_all(
            _spec(args),
            args.data_root,
            settings,
            dist_info=dist_info,
            on_step=(lambda key: print(f"== {key}", file=sys.stderr)) if dist_info.is_main else None,
        )

    dist_info, doc = _with_group(args, work)
    if not dist_info.is_main:
        return 0
    json_path, md_path = write_outputs(doc, args.out, args.compare)
    if args.json:
        print(json.dumps(doc, indent=2, default=str))
    else:
        print(md_path.read_text(encoding="utf-8"))
        print(f"wrote {json_path} and {md_path}")
        for key, error in doc["errors"].items():
            print(f"FAILED {key}: {error}", file=sys.stderr)
        if doc["skipped"]:
            print(f"no data for: {', '.join(doc['skipped'])} (under {args.data_root})", file=sys.stderr)
    return 1 if doc["errors"] else 0
