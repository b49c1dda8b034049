"""`pmc-trainer data fetch NAME`: download a data set from its public home into a folder, in its real layout.

Every file goes through `engine.hub.fetch` (progress, resume of a partial file, size/hash check, offline message);
archives go through `engine.ingest.archives.safe_extract` (no traversal, no links, no bombs). A step that already
finished is skipped on the next run: downloaded files are verified copies, and extracted archives are recorded in
`.fetch-state.json` (so a 22.7 GB zip deleted after extraction is not fetched again).

What goes where (DEST defaults to data/NAME):
- pmc-oa: hub dataset `axiong/pmc_oa` → `pmc_oa.jsonl`, `train/valid/test.jsonl` (legacy Beta splits), `images/`.
- roco: GitHub `razorx89/roco-dataset` @a1f0ad6 + PMC OA packages → `data/<split>/<class>/{captions,dlinks,
  licences}.txt` and `data/<split>/<class>/images/ROCO_xxxxx.jpg`.
- medmnist: Zenodo record 10519652 (MD5s from MedMNIST's INFO) → `<flag>[_<size>].npz`.
- vqa-rad: OSF project 89kps (a zip of its storage) → `osf/…` (the release) + `trainset.json`, `testset.json` (the
  MEVF split, derived).
- slake: hub dataset `BoKelvin/SLAKE` (the authors' upload) → `train.json`, `validation.json`, `test.json`,
  `images/imgs/xmlab<N>/`.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from engine.errors import ArchiveError, DownloadError, RemoteFileMissingError, UserInputError
from engine.fileio import atomic_write_text, file_sha256
from engine.hub import RemoteFile, UrlFile, fetch
from engine.hub.remote import read_record
from engine.ingest.archives import ArchiveLimits, safe_extract
from trainer.datasets import medmnist, pmc_oa, roco, vqa

logger = logging.getLogger(__name__)

DATASETS = ("pmc-oa", "roco", "medmnist", "vqa-rad", "slake")
STATE_FILE = ".fetch-state.json"
# Data-set archives are far larger than article packages: PMC-OA's images.zip has ~1.6M members and 22.7 GB.
DATASET_ARCHIVE_LIMITS = ArchiveLimits(max_members=5_000_000, max_member_bytes=2 << 30, max_total_bytes=256 << 30)
PACKAGE_LIMITS = ArchiveLimits()  # one PMC article package: the ingest defaults
VQA_RAD_OSF_ZIP = UrlFile("https://files.osf.io/v1/resources/89kps/providers/osfstorage/?zip=", "vqa_rad_osf.zip")
SLAKE_REPO = "BoKelvin/SLAKE"
SLAKE_JSON = ("train.json", "validation.json", "test.json")

Progress = Callable[[object], None] | None
Note = Callable[[str], None]


@dataclass(frozen=True)
class FetchOptions:
    offline: bool = False
    only: tuple[str, ...] = ()  # pmc-oa / slake: just these remote files
    subsets: tuple[str, ...] = medmnist.PAPER_SUBSETS
    sizes: tuple[int, ...] = (28,)
    splits: tuple[str, ...] = ("test",)  # roco
    classes: tuple[str, ...] = ("radiology",)  # roco
    images: bool = True  # pmc-oa images.zip, roco images from PMC packages, slake imgs.zip
    keep_archives: bool = False


@dataclass
class FetchReport:
    name: str
    dest: Path
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def fetch_dataset(
    name: str,
    dest: Path,
    options: FetchOptions = FetchOptions(),
    *,
    progress: Progress = None,
    note: Note | None = None,
) -> FetchReport:
    fetchers = {
        "pmc-oa": _fetch_pmc_oa,
        "roco": _fetch_roco,
        "medmnist": _fetch_medmnist,
        "vqa-rad": _fetch_vqa_rad,
        "slake": _fetch_slake,
    }
    if name not in fetchers:
        raise UserInputError(f"unknown data set {name!r}; choose from {', '.join(DATASETS)}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    report = FetchReport(name, dest)

    def say(message: str) -> None:
        report.notes.append(message)
        logger.info("%s: %s", name, message)
        if note is not None:
            note(message)

    fetchers[name](dest, options, _Context(options, progress, say, report))
    return report


@dataclass
class _Context:
    options: FetchOptions
    progress: Progress
    say: Note
    report: FetchReport

    def get(self, file, target: Path) -> Path:
        path = fetch(file, offline=self.options.offline, progress=self.progress, target=target)
        self.report.files.append(path)
        return path

    def get_optional(self, file, target: Path) -> Path | None:
        try:
            return self.get(file, target)
        except RemoteFileMissingError:
            self.say(f"{file.filename} is not on the server (any more); skipped")
            return None


# ----------------------------------------------------------------------------------------------- extraction


def _state(dest: Path) -> dict:
    try:
        return json.loads((dest / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _extract_once(ctx: _Context, dest: Path, file, archive_name: str, into: Path) -> Path:
    """Download `file` to DEST/archive_name and extract it into `into`, once; the archive is then deleted unless
    asked to keep it. Returns `into`."""
    state = _state(dest)
    key = f"extracted:{archive_name}"
    if key in state and into.is_dir():
        ctx.say(f"{archive_name} was extracted before into {into.name}/; skipped")
        return into
    archive = ctx.get(file, dest / archive_name)
    ctx.say(f"extracting {archive_name} into {into.name}/")
    safe_extract(archive, into, limits=DATASET_ARCHIVE_LIMITS)
    state[key] = read_record(archive).get("sha256") or file_sha256(archive)  # a hand-placed archive has no record
    atomic_write_text(dest / STATE_FILE, json.dumps(state, indent=1))
    if not ctx.options.keep_archives:
        for path in (archive, dest / f"{archive_name}.verified.json", dest / f"{archive_name}.lock"):
            path.unlink(missing_ok=True)
    return into


# ---------------------------------------------------------------------------------------------------- PMC-OA


def _fetch_pmc_oa(dest: Path, options: FetchOptions, ctx: _Context) -> None:
    wanted = set(options.only) or {*pmc_oa.JSONL_FILES, pmc_oa.IMAGES_ZIP}
    unknown = wanted - {*pmc_oa.JSONL_FILES, pmc_oa.IMAGES_ZIP}
    if unknown:
        raise UserInputError(f"PMC-OA has no {', '.join(sorted(unknown))}; its files: {pmc_oa.JSONL_FILES}, images.zip")
    for name in pmc_oa.JSONL_FILES:
        if name in wanted:
            getter = ctx.get_optional if name in pmc_oa.LEGACY_FILES else ctx.get
            getter(pmc_oa.remote_file(name), dest / name)
    if options.images and pmc_oa.IMAGES_ZIP in wanted:
        _extract_once(ctx, dest, pmc_oa.remote_file(pmc_oa.IMAGES_ZIP), pmc_oa.IMAGES_ZIP, dest / pmc_oa.IMAGES_DIR)


# ------------------------------------------------------------------------------------------------------ ROCO


def _fetch_roco(dest: Path, options: FetchOptions, ctx: _Context) -> None:
    for split in options.splits:
        for cls in options.classes:
            if split not in roco.SPLITS or cls not in roco.CLASSES:
                raise UserInputError(f"ROCO has splits {roco.SPLITS} and classes {roco.CLASSES}, not {split}/{cls}")
            for file, relative in roco.remote_text_files(split, cls):
                ctx.get(file, dest / relative)
            if options.images and not options.offline:
                fetch_roco_images(roco.folder_of(dest, split, cls), ctx)
            elif options.images:
                ctx.say("offline: ROCO images (from PMC article packages) not fetched")


def fetch_roco_images(folder: Path, ctx: _Context) -> dict[str, int]:
    """Each missing image from its article's PMC package; failures are listed in missing_images.tsv, not fatal."""
    links = roco.read_dlinks(folder / "dlinks.txt")
    licences = roco.read_licences(folder / "licences.txt") if (folder / "licences.txt").is_file() else {}
    todo = [
        link
        for link in links.values()
        if roco.image_file(folder, link.roco_id, licences.get(link.roco_id, ("",))[0]) is None
    ]
    packages: dict[str, list[roco.PackageLink]] = {}
    for link in todo:
        packages.setdefault(link.ftp_path, []).append(link)
    ctx.say(
        f"{folder.parent.name}/{folder.name}: {len(links) - len(todo)} images present, {len(todo)} to fetch "
        f"from {len(packages)} PMC packages"
    )
    failed: list[tuple[str, str, str]] = []
    (folder / "images").mkdir(exist_ok=True)
    for group in packages.values():
        failed.extend(_images_from_package(folder, group, ctx))
    missing = folder / "missing_images.tsv"
    if failed:
        rows = ["roco_id\tpackage\treason"] + ["\t".join(row) for row in failed]
        atomic_write_text(missing, "\n".join(rows) + "\n")
        ctx.say(f"{len(failed)} images could not be fetched; see {missing}")
    else:
        missing.unlink(missing_ok=True)
    return {"present": len(links) - len(todo), "fetched": len(todo) - len(failed), "failed": len(failed)}


def _images_from_package(folder: Path, group: list[roco.PackageLink], ctx: _Context) -> list[tuple[str, str, str]]:
    work = folder / ".packages"
    first = group[0]
    try:
        package = _download_package(first, work, ctx)
        members = {link.member for link in group}
        extracted = safe_extract(
            package, work / first.pmcid, limits=PACKAGE_LIMITS, wanted=lambda n: PurePosixPath(n).name in members
        )
    except (DownloadError, ArchiveError) as e:
        return [(link.roco_id, first.ftp_path, str(e).replace("\t", " ")) for link in group]
    by_name = {path.name: path for path in extracted}
    failed = []
    for link in group:
        source = by_name.get(link.member)
        if source is None:
            failed.append((link.roco_id, first.ftp_path, f"{link.member} is not in the package"))
        else:
            shutil.copyfile(source, folder / "images" / f"{link.roco_id}.jpg")
    if not ctx.options.keep_archives:
        shutil.rmtree(work / first.pmcid, ignore_errors=True)
        for suffix in ("", ".verified.json", ".lock"):
            (work / f"{first.pmcid}.tar.gz{suffix}").unlink(missing_ok=True)
    return failed


def _download_package(link: roco.PackageLink, work: Path, ctx: _Context) -> Path:
    """The package from PMC's tree, or from `deprecated/` where PMC moved it in April 2026."""
    target = work / f"{link.pmcid}.tar.gz"
    last: Exception | None = None
    for address in link.addresses():
        try:
            return fetch(UrlFile(address, target.name), offline=ctx.options.offline, target=target)
        except RemoteFileMissingError as e:
            last = e
    raise DownloadError(f"{link.pmcid}.tar.gz is in neither of PMC's places ({last})")


# -------------------------------------------------------------------------------------------------- MedMNIST


def _fetch_medmnist(dest: Path, options: FetchOptions, ctx: _Context) -> None:
    for flag in options.subsets:
        for size in options.sizes:
            file = medmnist.remote_file(flag, size)
            ctx.get(file, dest / file.filename)


# --------------------------------------------------------------------------------------------------- VQA-RAD


def _fetch_vqa_rad(dest: Path, options: FetchOptions, ctx: _Context) -> None:
    osf = _extract_once(ctx, dest, VQA_RAD_OSF_ZIP, VQA_RAD_OSF_ZIP.filename, dest / "osf")
    _extract_inner_zips(osf, ctx)
    counts = vqa.write_mevf_split(dest)  # finds the public JSON wherever the zip put it
    ctx.say(f"MEVF split written: {counts['train']} train / {counts['test']} test questions (papers: 3,064 / 451)")


def _extract_inner_zips(folder: Path, ctx: _Context) -> None:
    """OSF stores a folder as a zip inside its zip; unpack such inner zips next to themselves, once."""
    for inner in sorted(folder.rglob("*.zip")):
        target = inner.with_suffix("")
        if not target.exists():
            ctx.say(f"extracting {inner.name}")
            safe_extract(inner, target, limits=DATASET_ARCHIVE_LIMITS)


# ----------------------------------------------------------------------------------------------------- SLAKE


def _fetch_slake(dest: Path, options: FetchOptions, ctx: _Context) -> None:
    wanted = set(options.only) or {*SLAKE_JSON, "imgs.zip"}
    for name in SLAKE_JSON:
        if name in wanted:
            got = ctx.get_optional(RemoteFile(SLAKE_REPO, name, repo_type="dataset"), dest / name)
            if got is None and name == "validation.json":  # the release's own name, before the hub copy renamed it
                ctx.get(RemoteFile(SLAKE_REPO, "validate.json", repo_type="dataset"), dest / "validate.json")
    if options.images and "imgs.zip" in wanted:
        _extract_once(ctx, dest, RemoteFile(SLAKE_REPO, "imgs.zip", repo_type="dataset"), "imgs.zip", dest / "images")
