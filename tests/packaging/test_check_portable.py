"""The portability check finds AVX-512 by disassembly, and the portable hnswlib build has none."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "packaging"))
import check_portable  # noqa: E402

pytestmark = pytest.mark.skipif(
    shutil.which("gcc") is None or shutil.which("objdump") is None or sys.platform != "linux",
    reason="needs gcc and objdump on Linux",
)

KERNEL = """
float dot(const float *a, const float *b, int n) {
    float s = 0.0f;
    for (int i = 0; i < n; ++i) s += a[i] * b[i];
    return s;
}
"""


def _compile(folder: Path, name: str, *flags: str) -> Path:
    source = folder / "kernel.c"
    source.write_text(KERNEL)
    library = folder / f"{name}.so"
    subprocess.run(["gcc", "-O3", "-ffast-math", "-shared", "-fPIC", *flags, "-o", str(library), str(source)],
                   check=True)
    return library


def test_avx512_code_is_found_and_baseline_code_passes(tmp_path):
    wide = check_portable.scan(_compile(tmp_path, "wide", "-mavx512f", "-mprefer-vector-width=512"))
    assert wide["avx512"] > 0 and any("zmm" in e for e in wide["avx512_examples"])
    baseline = check_portable.scan(_compile(tmp_path, "baseline"))
    assert baseline["instructions"] > 0 and baseline["avx512"] == 0 and baseline["avx"] == 0
    avx2 = check_portable.scan(_compile(tmp_path, "avx2", "-mavx2"))
    assert avx2["avx"] > 0 and avx2["avx512"] == 0


def test_a_bundle_folder_is_checked_through_its_hnswlib(tmp_path):
    internal = tmp_path / "_internal"
    internal.mkdir()
    _compile(internal, "hnswlib.cpython-311-x86_64-linux-gnu", "-mavx512f", "-mprefer-vector-width=512")
    assert check_portable.check_bundle(tmp_path)["ok"] is False
    assert check_portable.main([str(tmp_path)]) == 1
    (internal / "hnswlib.cpython-311-x86_64-linux-gnu.so").unlink()
    _compile(internal, "hnswlib.cpython-311-x86_64-linux-gnu")
    assert check_portable.check_bundle(tmp_path)["ok"] is True
    assert check_portable.main([str(tmp_path)]) == 0


def test_a_bundle_without_hnswlib_is_not_called_portable(tmp_path):
    (tmp_path / "_internal").mkdir()
    assert check_portable.check_bundle(tmp_path)["ok"] is False
