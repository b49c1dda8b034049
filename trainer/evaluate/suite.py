"""`eval all --model M --data-root DIR`: every evaluation whose data is present, one JSON, one markdown table.

DIR is laid out as `pmc-trainer data fetch` leaves it: `DIR/roco`, `DIR/pmc-oa`, `DIR/medmnist`, `DIR/vqa-rad`,
`DIR/slake`. An absent data set is skipped (and listed); an evaluation that fails is recorded with its error and
the others still run (the command then exits non-zero). The JSON holds the metrics, the settings, the model
(name, weights, id, device, precision), sha256 checksums of the data files read (row files, label arrays; not every
image), library versions and the time. The markdown sets the paper's rows beside this model and beside every other
model whose JSON is in the output folder (or given with --compare).
"""

from __future__ import annotations

import datetime
import json
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from engine.errors import PmcSearchError
from engine.fileio import atomic_write_text, file_sha256
from trainer.distributed import DistInfo
from trainer.evaluate import table
from trainer.evaluate.encode import ModelSpec, create_eval_encoder
from trainer.evaluate.medmnist_eval import METHODS, FineTuneSettings, evaluate_medmnist
from trainer.evaluate.retrieval import evaluate_retrieval, jsonl_set, roco_set
from trainer.evaluate.vqa_eval import VqaSettings, evaluate_vqa

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SuiteSettings:
    protocol: str = "reference"
    ties: str = "official"
    bootstrap: int = 0
    retrieval_batch: int = 32
    pmc_oa_file: str = "test.jsonl"
    medmnist_methods: tuple[str, ...] = METHODS
    fine_tune: FineTuneSettings = field(default_factory=FineTuneSettings)
    vqa: VqaSettings = field(default_factory=VqaSettings)


def discover(root: Path, pmc_oa_file: str = "test.jsonl") -> dict[str, Path]:
    """The data sets present under `root` (by the files each evaluation reads)."""
    root = Path(root)
    found = {}
    if (root / "roco" / "data" / "test" / "radiology" / "captions.txt").is_file():
        found["roco"] = root / "roco"
    if (root / "pmc-oa" / pmc_oa_file).is_file():
        found["pmc-oa"] = root / "pmc-oa"
    if any((root / "medmnist").glob("*mnist*.npz")):
        found["medmnist"] = root / "medmnist"
    if (root / "vqa-rad" / "trainset.json").is_file() or any((root / "vqa-rad").rglob("VQA_RAD Dataset Public.json")):
        found["vqa-rad"] = root / "vqa-rad"
    if (root / "slake" / "train.json").is_file():
        found["slake"] = root / "slake"
    return found


def _data_files(name: str, folder: Path, pmc_oa_file: str) -> list[Path]:
    patterns = {
        "roco": ["data/test/radiology/captions.txt"],
        "pmc-oa": [pmc_oa_file],
        "medmnist": ["*.npz"],
        "vqa-rad": ["trainset.json", "testset.json"],
        "slake": ["train.json", "validate.json", "validation.json", "test.json"],
    }[name]
    return sorted(p for pattern in patterns for p in folder.glob(pattern) if p.is_file())


def checksums(name: str, folder: Path, pmc_oa_file: str = "test.jsonl") -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): file_sha256(p) for p in _data_files(name, folder, pmc_oa_file)}


def run_all(
    spec: ModelSpec,
    data_root: Path,
    settings: SuiteSettings = SuiteSettings(),
    *,
    encoder=None,
    dist_info: DistInfo | None = None,
    on_step: Callable[[str], None] | None = None,
) -> dict:
    dist_info = dist_info or DistInfo()
    found = discover(data_root, settings.pmc_oa_file)
    encoder = encoder or create_eval_encoder(spec, dist_info)
    doc: dict = {
        "model": {
            **spec.to_dict(),
            "id": encoder.model_id,
            "device": str(getattr(encoder, "device", "")),
            "precision": getattr(encoder, "precision", ""),
        },
        "settings": _plain(asdict(settings)),
        "data": {
            name: {"path": str(path), "sha256": checksums(name, path, settings.pmc_oa_file)}
            for name, path in found.items()
        },
        "skipped": sorted({"roco", "pmc-oa", "medmnist", "vqa-rad", "slake"} - set(found)),
        "metrics": {"retrieval": {}, "medmnist": {}, "vqa": {}},
        "errors": {},
        "versions": _versions(),
        "ranks": dist_info.world_size,
    }
    for key, job in _jobs(spec, found, settings, encoder, dist_info):
        if on_step is not None:
            on_step(key)
        group, _, name = key.partition("/")
        try:
            doc["metrics"][group][name] = job()
        except PmcSearchError as e:
            logger.error("%s failed: %s", key, e)
            doc["errors"][key] = str(e)
    doc["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    return doc


def _jobs(spec, found, settings: SuiteSettings, encoder, dist_info):
    from trainer.datasets import medmnist

    retrieval = {
        "protocol": settings.protocol,
        "ties": settings.ties,
        "bootstrap": settings.bootstrap,
        "batch_size": settings.retrieval_batch,
        "dist_info": dist_info,
    }
    if "roco" in found:
        yield "retrieval/roco", lambda: evaluate_retrieval(encoder, roco_set(found["roco"]), **retrieval)
    if "pmc-oa" in found:
        path = found["pmc-oa"] / settings.pmc_oa_file
        yield "retrieval/pmc-oa", lambda: evaluate_retrieval(encoder, jsonl_set(path), **retrieval)
    if "medmnist" in found:
        flags = sorted({medmnist.flag_and_size(p)[0] for p in found["medmnist"].glob("*mnist*.npz")})
        for flag in flags:

            def job(flag=flag):
                data = medmnist.load(medmnist.find_file(found["medmnist"], flag))
                return evaluate_medmnist(
                    spec,
                    data,
                    methods=settings.medmnist_methods,
                    encoder=encoder,
                    settings=settings.fine_tune,
                    dist_info=dist_info,
                )

            yield f"medmnist/{flag}", job
    for name in ("vqa-rad", "slake"):
        if name in found:
            yield (
                f"vqa/{name}",
                lambda name=name: evaluate_vqa(
                    spec, name, found[name], settings=settings.vqa, encoder=encoder, dist_info=dist_info
                ),
            )


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _versions() -> dict[str, str]:
    import numpy
    import sklearn
    import torch

    from engine import __version__

    return {
        "pmc-figure-search": __version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scikit-learn": sklearn.__version__,
    }


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "model"


def write_outputs(doc: dict, out_dir: Path, compare: list[Path] = ()) -> tuple[Path, Path]:
    """`<out>/<model>.json`, and `<out>/results.md` over every JSON in `out` plus `compare`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / f"{slug(doc['model']['id'])}.json"
    atomic_write_text(json_path, json.dumps(doc, indent=2, default=str))
    docs = []
    for path in sorted({*out_dir.glob("*.json"), *map(Path, compare)}):
        try:
            other = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            logger.warning("skipping %s in the table: %s", path, e)
            continue
        if isinstance(other, dict) and "metrics" in other:
            docs.append(other)
    md_path = out_dir / "results.md"
    atomic_write_text(md_path, table.render(docs))
    return json_path, md_path
