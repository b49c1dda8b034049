"""Build the desktop bundle: portable hnswlib → PyInstaller (build.spec) → portability check → archive → report.

Run with the Python of the venv whose packages go into the bundle (`make bundle VENV=…` does this):

    .venv/bin/python packaging/build_bundle.py [--no-archive]

The variant is the venv's torch: a CPU wheel gives the "cpu" bundle, a CUDA wheel the "cuda" one. Output:
`dist/<variant>/PMC Figure Search/` (the one-folder app) and
`dist/<variant>/pmc-figure-search-<version>-<os>-<arch>-<variant>.tar.gz` (what a user downloads), plus
`build/bundle/report-<variant>.json` with the build time, the sizes and the largest parts.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "bundle"
PORTABLE_HNSWLIB = WORK / "portable-hnswlib"
APP_FOLDER = "PMC Figure Search"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from check_portable import check_bundle  # noqa: E402  (a sibling script, not a package)


def torch_variant() -> str:
    """"cuda" or "cpu", from the venv's torch; fails early when torchvision's compiled ops do not load beside it.

    PyPI's torchvision is built against PyPI's (CUDA) torch: beside a CPU torch its ops fail to load and
    `import torchvision` raises "operator torchvision::nms does not exist" — a bundle of that venv could not start.
    """
    import torch

    try:
        import torchvision  # noqa: F401
    except (ImportError, RuntimeError) as error:
        raise SystemExit(
            f"torchvision does not import in this venv ({error}); install torch and torchvision from the same "
            "index (for the CPU bundle: `make bundle-cpu`, PyTorch's CPU index)"
        ) from error
    return "cuda" if torch.version.cuda else "cpu"


def build_portable_hnswlib(target: Path = PORTABLE_HNSWLIB) -> Path:
    """Compile the venv's hnswlib version without -march=native (HNSWLIB_NO_NATIVE) and unpack it into `target`.

    pip compiles hnswlib from source with -march=native, so the venv's copy uses every instruction of the build
    machine (AVX-512 here) and dies with SIGILL on an older CPU. The portable build targets the compiler's
    default x86-64 baseline (SSE2); hnswlib picks its SSE distance kernels then.
    """
    version = importlib.metadata.version("hnswlib")
    marker = target / "version.txt"
    if marker.is_file() and marker.read_text().strip() == version:
        return target
    shutil.rmtree(target, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix="hnswlib-wheel-") as wheel_dir:
        env = dict(os.environ, HNSWLIB_NO_NATIVE="1")
        command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-binary", "hnswlib"]
        command += ["--no-cache-dir", "--wheel-dir", wheel_dir, f"hnswlib=={version}"]
        subprocess.run(command, check=True, env=env)
        (wheel,) = Path(wheel_dir).glob("hnswlib-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            members = [m for m in archive.namelist() if m.startswith("hnswlib") and "/" not in m]
            archive.extractall(target, members=members)  # just the extension module: a trusted wheel we built
    marker.write_text(version + "\n")
    return target


def run_pyinstaller(variant: str, dist: Path) -> None:
    env = dict(os.environ, PMC_BUNDLE_VARIANT=variant, PMC_PORTABLE_HNSWLIB=str(PORTABLE_HNSWLIB))
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN"]
    command += ["--distpath", str(dist), "--workpath", str(WORK / f"pyinstaller-{variant}"), str(ROOT / "build.spec")]
    subprocess.run(command, check=True, env=env, cwd=ROOT)


def strip_torch_libraries(folder: Path) -> int:
    """Drop the static symbol tables of torch's own libraries (~170 MB for a CUDA build); returns bytes saved.

    `strip --strip-unneeded` keeps everything the dynamic linker needs (.dynsym), so loading and calls are as
    before; only symbol names for debuggers go. Left alone: NVIDIA's libraries (already stripped) and Qt's.
    """
    if not sys.platform.startswith("linux") or shutil.which("strip") is None:
        return 0
    saved = 0
    for library in sorted((folder / "_internal" / "torch" / "lib").glob("lib*.so*")):
        if library.is_symlink():
            continue
        before = library.stat().st_size
        subprocess.run(["strip", "--strip-unneeded", str(library)], check=True)
        saved += before - library.stat().st_size
    return saved


def add_desktop_integration(folder: Path) -> None:
    """Linux: the menu installer and its .desktop template go at the top of the app folder, where users look."""
    if not sys.platform.startswith("linux"):
        return
    for name in ("install.sh", "pmc-figure-search.desktop"):
        shutil.copy2(ROOT / "packaging" / "linux" / name, folder / name)


def archive_name(variant: str) -> str:
    version = importlib.metadata.version("pmc-figure-search")
    system = {"linux": "linux", "darwin": "macos", "win32": "windows"}.get(sys.platform, sys.platform)
    return f"pmc-figure-search-{version}-{system}-{platform.machine().lower()}-{variant}.tar.gz"


def make_archive(folder: Path, target: Path) -> Path:
    """A .tar.gz whose one top-level entry is the app folder (symlinks kept as links, as PyInstaller made them)."""
    partial = target.with_name(target.name + ".partial")
    with tarfile.open(partial, "w:gz", compresslevel=6) as archive:
        archive.add(folder, arcname=folder.name)
    partial.replace(target)
    return target


def tree_size(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(tree_size(child) for child in path.iterdir())


def largest_parts(folder: Path, count: int = 5) -> list[tuple[str, int]]:
    """The biggest entries directly under the bundle's data folder (`_internal/`): packages and loose libraries."""
    internal = folder / "_internal"
    parts = [(child.name, tree_size(child)) for child in internal.iterdir()]
    return sorted(parts, key=lambda part: part[1], reverse=True)[:count]


def _mb(size: int) -> str:
    return f"{size / 1e6:,.0f} MB"


def write_report(
    variant: str, folder: Path, archive: Path | None, seconds: float, portable: dict, stripped: int
) -> dict:
    report = {
        "variant": variant,
        "build_seconds": round(seconds, 1),
        "folder": str(folder),
        "folder_bytes": tree_size(folder),
        "archive": str(archive) if archive else None,
        "archive_bytes": archive.stat().st_size if archive else None,
        "largest_parts": largest_parts(folder),
        "stripped_bytes": stripped,
        "portability": portable,
        "machine": {"nproc": os.cpu_count(), "load": os.getloadavg(), "python": platform.python_version()},
    }
    path = WORK / f"report-{variant}.json"
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"bundle ({variant}): {folder} {_mb(report['folder_bytes'])}, built in {seconds / 60:.1f} min")
    if archive:
        print(f"archive: {archive} {_mb(report['archive_bytes'])}")
    for name, size in report["largest_parts"]:
        print(f"  {_mb(size):>10}  _internal/{name}")
    print(f"report: {path}")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-archive", action="store_true", help="stop after the folder and its checks")
    args = parser.parse_args(argv)
    started = time.monotonic()
    variant = torch_variant()
    dist = ROOT / "dist" / variant
    build_portable_hnswlib()
    run_pyinstaller(variant, dist)
    folder = dist / APP_FOLDER
    add_desktop_integration(folder)
    stripped = strip_torch_libraries(folder)
    portable = check_bundle(folder)
    if portable["ok"] is False:
        print(f"not portable: {portable}", file=sys.stderr)
        return 1
    if portable["ok"] is None:
        print(f"warning: {portable['skipped']}", file=sys.stderr)
    archive = None if args.no_archive else make_archive(folder, dist / archive_name(variant))
    write_report(variant, folder, archive, time.monotonic() - started, portable, stripped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
