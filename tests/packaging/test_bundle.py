"""The packaged app, as a clinician gets it: build the bundle, unpack its archive into an empty folder, and run it
there under `env -i` — no Python, no venv, no source tree, no PATH, a fresh home — with its own self-test (text
query, bundled JPEG, bundled DICOM, demo library). Also: a readable error when Qt cannot start, the logs in the
platform's log folder, no developer tools inside, and a hnswlib that runs on an old CPU.

Slow (one build is ~6-12 min on 2 cores, see README "Packaging"): `make test-bundle`, or
`pytest -m bundle tests/packaging/test_bundle.py`. To test a bundle built before with `make bundle`, point
PMC_BUNDLE_ARCHIVE at its .tar.gz.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
APP_FOLDER = "PMC Figure Search"
sys.path.insert(0, str(REPO / "packaging"))
import check_portable  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.bundle]


@pytest.fixture(scope="module")
def archive() -> Path:
    prebuilt = os.environ.get("PMC_BUNDLE_ARCHIVE")
    if prebuilt:
        return Path(prebuilt)
    out = subprocess.run(
        [sys.executable, "packaging/build_bundle.py"], cwd=REPO, capture_output=True, text=True, timeout=45 * 60
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-5000:]
    (path,) = re.findall(r"^archive: (.+\.tar\.gz) ", out.stdout, flags=re.MULTILINE)
    return Path(path)


@pytest.fixture(scope="module")
def unpacked(archive, tmp_path_factory) -> Path:
    """The archive unpacked into an empty folder outside the source tree."""
    target = tmp_path_factory.mktemp("empty-folder")
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    assert [p.name for p in target.iterdir()] == [APP_FOLDER]
    return target / APP_FOLDER


def _run_clean(app: Path, home: Path, *args: str, extra_env: tuple[str, ...] = (), timeout: int = 600):
    """The bundle's executable with an empty environment: only HOME (fresh) and what a test adds."""
    command = ["env", "-i", f"HOME={home}", *extra_env, str(app / "pmc-search"), *args]
    return subprocess.run(command, cwd=app.parent, capture_output=True, text=True, timeout=timeout)


def test_version_shows_version_commit_and_variant(unpacked, tmp_path):
    out = _run_clean(unpacked, tmp_path, "--version", timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert re.fullmatch(r"pmc-search \d+\.\d+\.\d+\S* \(commit [0-9a-f]{12}(-dirty)?, (cpu|cuda) build\)\n", out.stdout)


def test_selftest_runs_text_jpeg_and_dicom_queries_on_the_demo_library(unpacked, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shot = tmp_path / "selftest.png"
    out = _run_clean(unpacked, home, "--selftest", "--screenshot", str(shot))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-5000:]
    assert "selftest: ok" in out.stdout
    queries = r"text query \d+ figures, JPEG query \d+ figures \(best match: itself\), DICOM query \d+ figures"
    assert re.search(queries, out.stdout)
    with Image.open(shot) as image:
        assert image.size == (1280, 800)
    # a fresh data folder was made under the fresh home, and the log went to the platform's log folder
    log = home / ".local" / "state" / "pmc-figure-search" / "log" / "pmc-search.log"
    assert "(bundle) on linux" in log.read_text(encoding="utf-8")


def test_a_missing_platform_plugin_library_or_display_is_reported_not_silent(unpacked, tmp_path):
    # xcb with a display that does not exist: either the xcb plugin lacks a system library on this machine or the
    # display does not answer; both must end in a sentence and exit 1, never in Qt's abort.
    out = _run_clean(unpacked, tmp_path, extra_env=("QT_QPA_PLATFORM=xcb", "DISPLAY=:97"), timeout=300)
    assert out.returncode == 1, out.stderr[-3000:]
    assert "PMC Figure Search cannot start" in out.stderr
    assert re.search(r"(sudo apt install \S+|does not answer)", out.stderr)


def test_no_trainer_tests_tensorboard_or_dev_tools_inside(unpacked):
    internal = unpacked / "_internal"
    names = {p.name for p in internal.iterdir()}
    for unwanted in ("trainer", "tests", "bench", "tensorboard", "triton", "pytest", "_pytest", "hypothesis",
                     "PyInstaller", "ruff", "matplotlib"):
        assert unwanted not in names
    for resource in ("style.qss", "build-info.json", "selftest/chest-ct.dcm", "icons/pmc-figure-search-256.png",
                     "demo-model/config.json"):
        assert (internal / "resources" / resource).is_file()
    assert (internal / "engine" / "models" / "configs" / "pretrained.json").is_file()
    assert (internal / "engine" / "models" / "prompts" / "modality.json").is_file()
    assert (unpacked / "install.sh").is_file() and (unpacked / "pmc-figure-search.desktop").is_file()


def test_the_shipped_hnswlib_has_no_avx512_and_runs_on_an_old_cpu(unpacked, tmp_path):
    result = check_portable.check_bundle(unpacked)
    assert result["ok"], result
    assert result["libraries"][0]["avx"] == 0  # baseline x86-64: no AVX either
    qemu = shutil.which("qemu-x86_64")
    if qemu is None:
        pytest.skip("qemu-user is not installed: the disassembly check above is the evidence")
    # The same extension module, loaded by this Python under an emulated 2008 Nehalem (SSE4.2, no AVX).
    module_dir = tmp_path / "hnswlib-only"
    module_dir.mkdir()
    (library,) = check_portable.bundle_libraries(unpacked)
    shutil.copy2(library, module_dir / library.name)
    probe = (
        "import numpy as np, hnswlib\n"
        "d = np.random.default_rng(0).standard_normal((500, 32)).astype(np.float32)\n"
        "i = hnswlib.Index(space='ip', dim=32); i.init_index(max_elements=500, M=16, ef_construction=100)\n"
        "i.add_items(d, np.arange(500)); labels, _ = i.knn_query(d[:20], k=1)\n"
        "print('self-recall', float((labels[:, 0] == np.arange(20)).mean()))\n"
    )
    site = next(p for p in sys.path if p.endswith("site-packages"))
    env = {"PYTHONPATH": f"{module_dir}:{site}", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([qemu, "-cpu", "Nehalem", os.path.realpath(sys.executable), "-c", probe],
                         capture_output=True, text=True, env=env, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "self-recall 1.0" in out.stdout
