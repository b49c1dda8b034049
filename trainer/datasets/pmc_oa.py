"""PMC-OA on the Hugging Face hub (`axiong/pmc_oa`, datasets.md §6, pmc-clip.md §4.3).

Files: `pmc_oa.jsonl` (PMC-OA: sub-figures with ChatGPT-split sub-captions, no split), `images.zip` (22.7 GB; it
unpacks to `caption_T060_filtered_top4_sep_v0_subfigures/<image>`), and the legacy split files `train.jsonl`,
`valid.jsonl`, `test.jsonl` (PMC-OA *Beta* rows with whole compound captions; struck through on the current card,
so they may disappear: a missing one is reported, not fatal). Rows are `{"image": …, "caption": …}` plus keys we
ignore. The retrieval "PMC-OA test" is `test.jsonl`; `pmc_oa.jsonl` is what training on PMC-OA uses.
"""

from __future__ import annotations

from pathlib import Path

from engine.hub import RemoteFile
from trainer.data import PMC_OA_IMAGE_FOLDER, read_rows, resolve_image_root

REPO = "axiong/pmc_oa"
JSONL_FILES = ("pmc_oa.jsonl", "train.jsonl", "valid.jsonl", "test.jsonl")
LEGACY_FILES = ("train.jsonl", "valid.jsonl", "test.jsonl")
IMAGES_ZIP = "images.zip"
IMAGES_DIR = "images"  # images.zip is extracted here; the images then sit in IMAGES_DIR/PMC_OA_IMAGE_FOLDER


def remote_file(name: str) -> RemoteFile:
    return RemoteFile(REPO, name, repo_type="dataset")


def image_root(folder: Path) -> Path:
    return resolve_image_root(Path(folder) / IMAGES_DIR)


def read_split(folder: Path, name: str = "test.jsonl"):
    """(rows, image root) of one row file of a fetched PMC-OA folder."""
    return read_rows(Path(folder) / name).rows, image_root(folder)


__all__ = ["IMAGES_ZIP", "JSONL_FILES", "PMC_OA_IMAGE_FOLDER", "read_split", "remote_file"]
