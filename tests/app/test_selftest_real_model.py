"""End to end without fakes: a tiny real PMC-CLIP exported as a model folder, a demo library built with it, and
`python -m app --selftest` in a subprocess (the same entry point the packaged build runs)."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.gui, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


def test_selftest_subprocess_with_a_tiny_exported_model(tmp_path, isolated_home):
    from app.demo import build_demo_library
    from engine.models import save_model_dir
    from engine.models.transforms import PreprocessConfig
    from engine.types import ModelSpec
    from tests.engine.models.tiny_models import tiny_model, tiny_vocab

    model_dir = save_model_dir(tiny_model(seed=1, mlm=False), tiny_vocab(tmp_path / "vocab"), tmp_path / "model",
                               PreprocessConfig(image_size=64))
    library_dir = tmp_path / "library"
    build_demo_library(library_dir, ModelSpec(name=f"local-dir:{model_dir}"), figures_dir=tmp_path / "figures",
                       count=12, device="cpu").close()

    png = tmp_path / "shot.png"
    out = subprocess.run(
        [sys.executable, "-m", "app", "--library", str(library_dir), "--selftest", "--screenshot", str(png)],
        capture_output=True, text=True, cwd=REPO, timeout=300,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen", "PMC_SEARCH_HOME": str(isolated_home)},
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "selftest: ok" in out.stdout and png.stat().st_size > 10_000
