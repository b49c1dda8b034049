"""VQA-RAD (the MEVF split) and SLAKE (English): readers for their real files (datasets.md §4, §5).

VQA-RAD. The official release (OSF 89kps) is `VQA_RAD Dataset Public.json` + `VQA_RAD Image Folder/`. Papers use
the MEVF split (3,064 train / 451 test): `trainset.json` / `testset.json`, made by copying eight fields of each
public record and sending every record whose `phrase_type` contains "test" to the test set (`test_freeform` →
`freeform`, `test_para` → `para`). `derive_mevf_split` does exactly that, so a fetch of the OSF release yields the
same two files; a folder that already has them (MEVF's `data_RAD/`) is read as is. Quirks handled: `answer_type`
"CLOSED " with a trailing space (stripped, upper-cased), integer answers (cast to str), rows sorted by `qid`.

SLAKE 1.0 (`BoKelvin/SLAKE` on the hub, as released): `train.json`, `validate.json` (the hub copy renamed it
`validation.json`; both are accepted), `test.json`, images `imgs/xmlab<N>/source.jpg` (`img_name` is relative to
`imgs/`). Papers report English only: `q_lang == "en"` (test: 1,061 = 645 open + 416 closed).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from engine.errors import UserInputError

logger = logging.getLogger(__name__)

VQA_RAD_PUBLIC_JSON = "VQA_RAD Dataset Public.json"
VQA_RAD_IMAGE_FOLDERS = ("VQA_RAD Image Folder", "images")
MEVF_FIELDS = ("qid", "image_name", "image_organ", "answer", "answer_type", "question_type", "question", "phrase_type")
MEVF_FILES = {"train": "trainset.json", "test": "testset.json"}
SLAKE_FILES = {"train": ("train.json",), "validate": ("validate.json", "validation.json"), "test": ("test.json",)}
ANSWER_TYPES = ("OPEN", "CLOSED")


@dataclass(frozen=True)
class VqaItem:
    qid: int
    image: Path  # absolute path of the image file
    question: str
    answer: str
    answer_type: str  # "OPEN" | "CLOSED"


def answer_type(value: object, where: str) -> str:
    kind = str(value).strip().upper()
    if kind not in ANSWER_TYPES:
        raise UserInputError(f"{where}: answer_type {value!r} is neither OPEN nor CLOSED")
    return kind


def _load_json_list(path: Path) -> list[dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UserInputError(f"cannot read {path}: {e}") from e
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise UserInputError(f"{path}: expected a JSON array of objects")
    return data


def _safe_relative(name: object, where: str) -> str:
    text = str(name).strip().replace("\\", "/")
    pure = PurePosixPath(text)
    if not text or pure.is_absolute() or ".." in pure.parts:
        raise UserInputError(f"{where}: unsafe image path {name!r}")
    return text


# ----------------------------------------------------------------------------------------------------- VQA-RAD


def derive_mevf_split(public: list[dict]) -> dict[str, list[dict]]:
    """{'train': [...], 'test': [...]} in MEVF's format from the public JSON's records."""
    out: dict[str, list[dict]] = {"train": [], "test": []}
    for record in public:
        missing = [k for k in MEVF_FIELDS if k not in record]
        if missing:
            raise UserInputError(f"VQA-RAD record {record.get('qid', '?')} lacks {', '.join(missing)}")
        row = {k: record[k] for k in MEVF_FIELDS}
        phrase = str(row["phrase_type"])
        split = "test" if "test" in phrase else "train"
        row["phrase_type"] = phrase.removeprefix("test_")
        out[split].append(row)
    for rows in out.values():
        rows.sort(key=lambda r: int(r["qid"]))
    return out


def write_mevf_split(folder: Path) -> dict[str, int]:
    """Write `trainset.json` / `testset.json` next to the public JSON; their row counts."""
    from engine.fileio import atomic_write_text

    folder = Path(folder)
    public = find_file(folder, VQA_RAD_PUBLIC_JSON)
    split = derive_mevf_split(_load_json_list(public))
    for name, rows in split.items():
        atomic_write_text(folder / MEVF_FILES[name], json.dumps(rows, indent=1, ensure_ascii=False))
    return {name: len(rows) for name, rows in split.items()}


def find_file(folder: Path, name: str) -> Path:
    """`folder/name`, or the one copy of it anywhere below (archives differ in their top folders)."""
    direct = Path(folder) / name
    if direct.exists():
        return direct
    found = sorted(Path(folder).rglob(name))
    if not found:
        raise UserInputError(f"no {name!r} in {folder}")
    return found[0]


def vqa_rad_image_root(folder: Path) -> Path:
    for name in VQA_RAD_IMAGE_FOLDERS:
        try:
            candidate = find_file(folder, name)
        except UserInputError:
            continue
        if candidate.is_dir():
            return candidate
    raise UserInputError(f"no VQA-RAD image folder ({' or '.join(VQA_RAD_IMAGE_FOLDERS)}) in {folder}")


def read_vqa_rad(folder: Path, split: str) -> list[VqaItem]:
    """MEVF `trainset.json` / `testset.json` of `folder` (derived in memory from the public JSON when absent)."""
    folder = Path(folder)
    if split not in MEVF_FILES:
        raise UserInputError(f"VQA-RAD splits are {', '.join(MEVF_FILES)}, not {split!r}")
    path = folder / MEVF_FILES[split]
    if path.is_file():
        records = _load_json_list(path)
    else:
        records = derive_mevf_split(_load_json_list(find_file(folder, VQA_RAD_PUBLIC_JSON)))[split]
    image_root = vqa_rad_image_root(folder)
    items = [_item(record, image_root, "image_name", path.name) for record in records]
    return sorted(items, key=lambda item: item.qid)


# ------------------------------------------------------------------------------------------------------- SLAKE


def slake_file(folder: Path, split: str) -> Path:
    if split not in SLAKE_FILES:
        raise UserInputError(f"SLAKE splits are {', '.join(SLAKE_FILES)}, not {split!r}")
    for name in SLAKE_FILES[split]:
        if (Path(folder) / name).is_file():
            return Path(folder) / name
    raise UserInputError(f"no SLAKE {' or '.join(SLAKE_FILES[split])} in {folder}")


def slake_image_root(folder: Path) -> Path:
    """The folder `img_name` is relative to: the release's `imgs/`, or whichever folder holds the xmlab<N> ones."""
    direct = Path(folder) / "imgs"
    if direct.is_dir():
        return direct
    found = sorted({p.parent for p in Path(folder).rglob("xmlab*") if p.is_dir() and p.name[5:].isdigit()})
    if not found:
        raise UserInputError(f"no SLAKE image folder (imgs/xmlab<N>/source.jpg) in {folder}")
    return found[0]


def read_slake(folder: Path, split: str, lang: str = "en") -> list[VqaItem]:
    path = slake_file(folder, split)
    image_root = slake_image_root(folder)
    records = [r for r in _load_json_list(path) if not lang or r.get("q_lang") == lang]
    items = [_item(record, image_root, "img_name", path.name) for record in records]
    return sorted(items, key=lambda item: item.qid)


def _item(record: dict, image_root: Path, image_key: str, file_name: str) -> VqaItem:
    where = f"{file_name} qid {record.get('qid')}"
    try:
        return VqaItem(
            qid=int(record["qid"]),
            image=image_root / _safe_relative(record[image_key], where),
            question=str(record["question"]).strip(),
            answer=str(record["answer"]).strip(),  # VQA-RAD has integer answers (COUNT questions)
            answer_type=answer_type(record["answer_type"], where),
        )
    except (KeyError, TypeError, ValueError) as e:
        raise UserInputError(f"{where}: not a VQA record ({e!r})") from e
