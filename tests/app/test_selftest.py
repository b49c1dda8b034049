import pytest
from PySide6.QtGui import QImage

pytestmark = pytest.mark.gui


def _pmc_search(argv: list[str], encoder_factory) -> int:
    """`pmc-search ARGV` in-process: the real parser and GUI dispatch, without re-configuring pytest's logging."""
    from app.cli import build_parser
    from app.selftest import run_selftest

    args = build_parser().parse_args(argv)
    assert args.selftest  # app.cli.main sends exactly these to the self-test
    return run_selftest(args, encoder_factory=encoder_factory)


def test_selftest_builds_a_demo_library_runs_two_queries_and_saves_a_png(tmp_path, qapp):
    from tests.fakes import FakeEncoder

    png = tmp_path / "selftest.png"
    fake_model = lambda spec, device, offline, progress: FakeEncoder(dim=32)  # noqa: E731
    assert _pmc_search(["--selftest", "--screenshot", str(png)], fake_model) == 0
    image = QImage(str(png))
    assert (image.width(), image.height()) == (1280, 800)


def test_selftest_fails_with_exit_1_when_the_model_cannot_load(tmp_path, qapp, capsys):
    from engine.errors import OfflineError

    def no_model(spec, device, offline, progress):
        raise OfflineError("vocab.txt is not on this machine")

    assert _pmc_search(["--selftest", "--library", str(tmp_path / "lib")], no_model) == 1
    assert "selftest: FAILED" in capsys.readouterr().err
