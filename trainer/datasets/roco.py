"""ROCO (razorx89/roco-dataset): its text files, their real format, and where its images come from (datasets.md §2).

Layout (the repository's, kept as is under the destination): `data/{train,validation,test}/{radiology,
non-radiology}/` with `captions.txt`, `dlinks.txt` and `licences.txt` (the other three text files hold keywords and
UMLS codes, which no evaluation uses), plus `images/ROCO_xxxxx.jpg` once the images are fetched.

Formats:
- `captions.txt`: `ROCO_xxxxx<TAB><SPACE>caption` — split on the first tab and drop the one leading space; records
  end at `\\n` only (captions contain other Unicode line-break characters? they are kept inside the caption).
- `dlinks.txt`: `ROCO_xxxxx<TAB>wget -r ftp://…/PMCnnn.tar.gz -P /path/to/Dir<TAB>member.jpg`.
- `licences.txt`: CSV with a header `ROCO_ID,PMC_ID,CC`, where PMC_ID is `<PMCID>_<image file>`: the name the
  images had before the repository switched to ROCO ids (commit 0db07be), so both names are looked for.

The images are not in the repository: each is a member of its article's PMC OA package (`dlinks.txt`). PMC moved
those packages under `deprecated/` in April 2026 and will remove them in August 2026, so both places are tried.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from engine.errors import UserInputError
from engine.hub import UrlFile

logger = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
CLASSES = ("radiology", "non-radiology")
TEXT_FILES = ("captions.txt", "dlinks.txt", "licences.txt")
REPO_COMMIT = "a1f0ad6c578ca8801e5a6eccc90af051aee1c326"  # 2022-04-05, the repository's last commit
RAW_BASE = f"https://raw.githubusercontent.com/razorx89/roco-dataset/{REPO_COMMIT}"
PMC_HTTPS = "https://ftp.ncbi.nlm.nih.gov/pub/pmc/"
PMC_DEPRECATED = "https://ftp.ncbi.nlm.nih.gov/pub/pmc/deprecated/"

# (bytes, sha256) of the text files at REPO_COMMIT, measured on a clone. The train/radiology captions and dlinks
# (≥ 4 MiB) were not in the clone we could read, so they are checked only against the size the server announces.
PINNED: dict[str, tuple[int, str]] = {
    "test/radiology/captions.txt": (1251805, "f69b73e3daac45b89e285ba8028207c96baf0a3a22ebe90d7a0480458690225a"),
    "test/radiology/dlinks.txt": (1038587, "492ca4c4399b8a8792860016e0864bf42bcbbb89edb7b1aa59e077df822f1ce7"),
    "test/radiology/licences.txt": (432311, "992f037378fd7107e12c673f2d06898d852bb5c77b2d927fc336d187d2282421"),
    "test/non-radiology/captions.txt": (107696, "00558fde13ed76677127d14dace4d92f060a5b804fcb70257a600e6278aed84a"),
    "test/non-radiology/dlinks.txt": (78141, "692835c96a7a41d791e0f3e9abb424ad4656556e0c7fcefc5794b3156f4e70e3"),
    "test/non-radiology/licences.txt": (32663, "cda234d52fcb32aa13f5d1873fb7cee09d807947ff64dbc2bb308b0efe4bf77c"),
    "validation/radiology/captions.txt": (1227664, "da83324afa6add202456aba69fde8b0640a3991bc70cbd9e02e4077e792d572c"),
    "validation/radiology/dlinks.txt": (1039710, "ba1bc746ee89e78f146efd853595aabe3e4ecf05cdff417c20b2556291bff9e1"),
    "validation/radiology/licences.txt": (433551, "15190c2a86c204f99e8bc5800d680c8cbf8967213507642678c01fb35130299a"),
    "validation/non-radiology/captions.txt": (
        100456,
        "8792c4df76ee90dfa017e47659ee7bfb23308f6eeeb6c4450698a6cbee3cce89",
    ),
    "validation/non-radiology/dlinks.txt": (77871, "d8952643927d3578900f2fb54bcb63b1c838e1d3cf6d90ecd446fa0141dea9e3"),
    "validation/non-radiology/licences.txt": (
        32539,
        "1bc124f41df4a3c17dbe8096e926fa3903b6824ad98614b169e16e74a992abfd",
    ),
    "train/radiology/licences.txt": (3461143, "a6e44c43415319b04a7819b38217200642a8b8c316b339b92f039d96786e4c26"),
    "train/non-radiology/captions.txt": (840829, "d7017d2fb6ec51f938f5f175426482b65837699e53c8f0e0f420e70879fd81cf"),
    "train/non-radiology/dlinks.txt": (623536, "2b4f7fb20d8f7115f85ab41ab5ef47045966726687d29cba8c116dabd0793422"),
    "train/non-radiology/licences.txt": (259926, "beae97734a7301b982cff30308054f55c402858af8dab97385d3532da910884b"),
}


def folder_of(root: Path, split: str, cls: str) -> Path:
    return Path(root) / "data" / split / cls


def remote_text_files(split: str, cls: str) -> list[tuple[UrlFile, str]]:
    """(file, its path under the destination) for one split/class."""
    out = []
    for name in TEXT_FILES:
        key = f"{split}/{cls}/{name}"
        size, sha256 = PINNED.get(key, (None, None))
        out.append((UrlFile(f"{RAW_BASE}/data/{key}", name, size=size, sha256=sha256), f"data/{key}"))
    return out


@dataclass(frozen=True)
class RocoPair:
    roco_id: str
    caption: str
    image: Path | None  # None: not fetched (yet)


@dataclass(frozen=True)
class PackageLink:
    roco_id: str
    ftp_path: str  # "oa_package/8d/34/PMC4608653.tar.gz", relative to PMC's root
    member: str  # the image's file name inside the package

    @property
    def pmcid(self) -> str:
        return Path(self.ftp_path).name.split(".")[0]

    def addresses(self) -> list[str]:
        return [PMC_HTTPS + self.ftp_path, PMC_DEPRECATED + self.ftp_path]


def _lines(path: Path) -> list[str]:
    # "\n" only: str.splitlines() would also split on U+2028 and friends inside captions.
    return [line.removesuffix("\r") for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def read_captions(path: Path) -> dict[str, str]:
    captions: dict[str, str] = {}
    for number, line in enumerate(_lines(path), start=1):
        roco_id, tab, caption = line.partition("\t")
        if not tab or not roco_id.startswith("ROCO_"):
            raise UserInputError(f"{path}:{number}: not `ROCO_id<TAB> caption`: {line[:60]!r}")
        captions[roco_id] = caption.removeprefix(" ").strip()
    return captions


_FTP = re.compile(r"ftp://ftp\.ncbi\.nlm\.nih\.gov/pub/pmc/(\S+\.tar\.gz)")


def read_dlinks(path: Path) -> dict[str, PackageLink]:
    links: dict[str, PackageLink] = {}
    for number, line in enumerate(_lines(path), start=1):
        fields = line.split("\t")
        match = _FTP.search(fields[1]) if len(fields) == 3 else None
        if match is None or "/" in fields[2] or fields[2] in ("", ".", ".."):
            raise UserInputError(f"{path}:{number}: not `ROCO_id<TAB>wget … .tar.gz …<TAB>image.jpg`: {line[:80]!r}")
        links[fields[0]] = PackageLink(fields[0], match.group(1), fields[2])
    return links


def read_licences(path: Path) -> dict[str, tuple[str, str]]:
    """ROCO id -> (old image name `<PMCID>_<file>`, licence)."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"ROCO_ID", "PMC_ID", "CC"} <= set(reader.fieldnames):
            raise UserInputError(f"{path}: expected the header ROCO_ID,PMC_ID,CC")
        return {row["ROCO_ID"]: (row["PMC_ID"], row["CC"]) for row in reader}


def image_file(folder: Path, roco_id: str, old_name: str | None = None) -> Path | None:
    """`images/ROCO_xxxxx.jpg` (current fetch script), else the pre-2022 `images/<PMCID>_<file>` name."""
    for name in (f"{roco_id}.jpg", old_name):
        if name and (folder / "images" / name).is_file():
            return folder / "images" / name
    return None


def read_pairs(folder: Path) -> list[RocoPair]:
    """The image–caption pairs of one split/class folder, in captions.txt order (the order protocols index)."""
    folder = Path(folder)
    captions_path = folder / "captions.txt"
    if not captions_path.is_file():
        raise UserInputError(f"no ROCO captions.txt in {folder} (fetch it with `pmc-trainer data fetch roco`)")
    captions = read_captions(captions_path)
    licences = read_licences(folder / "licences.txt") if (folder / "licences.txt").is_file() else {}
    return [
        RocoPair(roco_id, caption, image_file(folder, roco_id, licences.get(roco_id, (None, ""))[0]))
        for roco_id, caption in captions.items()
    ]
