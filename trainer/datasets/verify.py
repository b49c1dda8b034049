"""`pmc-trainer data verify NAME DIR`: count rows and images of a fetched data set and name what is missing.

Counts are compared with the published ones where they are known (datasets.md); a difference is reported as a
note, because some are themselves unresolved (VQA-RAD's test set has 308/143 free-form/paraphrased questions in the
MEVF files against 300/151 in the release's readme). A missing file or image is a problem, named with the first
few examples, and makes the command exit non-zero.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from engine.errors import UserInputError
from trainer.datasets import medmnist, pmc_oa, roco, vqa

EXPECTED = {
    "roco test/radiology pairs": 8179,
    "vqa-rad train questions": 3064,
    "vqa-rad test questions": 451,
    "slake train questions (en)": 4919,
    "slake validate questions (en)": 1053,
    "slake test questions (en)": 1061,
}
EXAMPLES = 10


@dataclass
class VerifyReport:
    name: str
    folder: Path
    counts: dict[str, int] = field(default_factory=dict)
    missing: dict[str, list[str]] = field(default_factory=dict)  # what -> first examples
    missing_total: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and not any(self.missing_total.values())

    def count(self, what: str, n: int) -> None:
        self.counts[what] = n
        if what in EXPECTED and EXPECTED[what] != n:
            self.notes.append(f"{what}: {n}, published {EXPECTED[what]}")

    def check_images(self, what: str, paths: list[Path], root: Path) -> None:
        absent = [p for p in paths if not p.is_file()]
        self.count(f"{what} images found", len(paths) - len(absent))
        self.missing_total[f"{what} images"] = len(absent)
        if absent:
            self.missing[f"{what} images"] = [_shown(p, root) for p in absent[:EXAMPLES]]

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "folder": str(self.folder),
            "ok": self.ok,
            "counts": self.counts,
            "missing": {k: {"total": self.missing_total[k], "examples": v} for k, v in self.missing.items()},
            "problems": self.problems,
            "notes": self.notes,
        }

    def lines(self) -> list[str]:
        out = [f"{self.name} in {self.folder}: {'OK' if self.ok else 'INCOMPLETE'}"]
        out += [f"  {what}: {n:,}" for what, n in self.counts.items()]
        for what, examples in self.missing.items():
            out.append(f"  MISSING {self.missing_total[what]:,} {what}, e.g. {', '.join(examples)}")
        out += [f"  PROBLEM {p}" for p in self.problems]
        out += [f"  note: {n}" for n in self.notes]
        return out


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def verify_dataset(name: str, folder: Path) -> VerifyReport:
    checks = {"pmc-oa": _pmc_oa, "roco": _roco, "medmnist": _medmnist, "vqa-rad": _vqa_rad, "slake": _slake}
    if name not in checks:
        raise UserInputError(f"unknown data set {name!r}; choose from {', '.join(checks)}")
    folder = Path(folder)
    report = VerifyReport(name, folder)
    if not folder.is_dir():
        report.problems.append(f"{folder} is not a folder")
        return report
    checks[name](folder, report)
    return report


def _guarded(report: VerifyReport, what: str, check) -> None:
    try:
        check()
    except UserInputError as e:
        report.problems.append(f"{what}: {e}")


def _pmc_oa(folder: Path, report: VerifyReport) -> None:
    present = [name for name in pmc_oa.JSONL_FILES if (folder / name).is_file()]
    if not present:
        report.problems.append(f"none of {', '.join(pmc_oa.JSONL_FILES)} in {folder}")
        return
    root = pmc_oa.image_root(folder)
    if not root.is_dir():
        report.problems.append(f"no images folder ({folder / pmc_oa.IMAGES_DIR}): fetch images.zip")
    for name in present:

        def check(name=name):
            rows, _ = pmc_oa.read_split(folder, name)
            report.count(f"{name} rows", len(rows))
            report.check_images(name, [root / r.image for r in rows], root)

        _guarded(report, name, check)


def _roco(folder: Path, report: VerifyReport) -> None:
    found = False
    for split in roco.SPLITS:
        for cls in roco.CLASSES:
            sub = roco.folder_of(folder, split, cls)
            if not (sub / "captions.txt").is_file():
                continue
            found = True

            def check(sub=sub, what=f"{split}/{cls}"):
                pairs = roco.read_pairs(sub)
                report.count(f"roco {what} pairs", len(pairs))
                if (sub / "dlinks.txt").is_file():
                    links = roco.read_dlinks(sub / "dlinks.txt")
                    if set(links) != {p.roco_id for p in pairs}:
                        report.problems.append(f"{what}: captions.txt and dlinks.txt list different ids")
                paths = [p.image or sub / "images" / f"{p.roco_id}.jpg" for p in pairs]
                report.check_images(f"roco {what}", paths, folder)

            _guarded(report, f"{split}/{cls}", check)
    if not found:
        report.problems.append(f"no data/<split>/<class>/captions.txt under {folder}")


def _medmnist(folder: Path, report: VerifyReport) -> None:
    files = sorted(folder.glob("*mnist*.npz"))
    if not files:
        report.problems.append(f"no MedMNIST .npz files in {folder}")
    for path in files:

        def check(path=path):
            data = medmnist.load(path)
            for split, part in data.splits.items():
                report.count(f"{path.name} {split}", len(part))
            report.notes.extend(data.count_notes)

        _guarded(report, path.name, check)


def _vqa_rad(folder: Path, report: VerifyReport) -> None:
    _vqa_splits(folder, report, "vqa-rad", vqa.MEVF_FILES, vqa.read_vqa_rad, "")


def _slake(folder: Path, report: VerifyReport) -> None:
    _vqa_splits(folder, report, "slake", vqa.SLAKE_FILES, vqa.read_slake, " (en)")


def _vqa_splits(folder: Path, report: VerifyReport, name: str, splits, read, suffix: str) -> None:
    for split in splits:

        def check(split=split):
            items = read(folder, split)
            _count_vqa(report, f"{name} {split} questions{suffix}", items)
            report.check_images(f"{name} {split}", sorted({i.image for i in items}), folder)

        _guarded(report, f"{name} {split}", check)


def _count_vqa(report: VerifyReport, what: str, items: list[vqa.VqaItem]) -> None:
    report.count(what, len(items))
    kinds = Counter(item.answer_type for item in items)
    for kind in vqa.ANSWER_TYPES:
        report.count(f"{what.split(' questions')[0]} {kind.lower()}", kinds.get(kind, 0))
