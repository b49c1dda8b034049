import pytest
from PySide6.QtGui import QImage

pytestmark = pytest.mark.gui


def _pmc_search(argv: list[str]) -> int:
    """`pmc-search ARGV` in-process: the real parser and GUI dispatch, without re-configuring pytest's logging."""
    from app.cli import build_parser
    from app.selftest import run_selftest

    args = build_parser().parse_args(argv)
    assert args.selftest  # app.cli.main sends exactly these to the self-test
    return run_selftest(args)


def test_selftest_builds_a_demo_library_runs_two_queries_and_saves_a_png(tmp_path, restore_encoder_factory, qapp):
    pytest.importorskip("engine.library")
    from tests.fakes import FakeEncoder

    restore_encoder_factory(lambda spec, device, offline, progress: FakeEncoder(dim=32))
    png = tmp_path / "selftest.png"
    assert _pmc_search(["--selftest", "--screenshot", str(png)]) == 0
    image = QImage(str(png))
    assert (image.width(), image.height()) == (1280, 800)


def test_selftest_fails_with_exit_1_when_the_model_cannot_load(tmp_path, restore_encoder_factory, qapp, capsys):
    pytest.importorskip("engine.library")
    from engine.errors import OfflineError

    def no_model(spec, device, offline, progress):
        raise OfflineError("vocab.txt is not on this machine")

    restore_encoder_factory(no_model)
    assert _pmc_search(["--selftest", "--library", str(tmp_path / "lib")]) == 1
    assert "selftest: FAILED" in capsys.readouterr().err
