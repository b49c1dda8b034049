"""How the desktop app behaves while it indexes: event-loop stalls and search latency through the GUI.

    QT_QPA_PLATFORM=offscreen python bench/gui_responsiveness.py [--images 200] [--delay-ms 20] [--runs 3]

Each run builds a fresh library (real engine Library: SQLite catalog + hnswlib index) whose model is the test
FakeEncoder with `--delay-ms` of pretend model time per image (standing in for a real model without needing its
weights), starts indexing `--images` synthetic figures from the window, and meanwhile
  * measures the gaps between ticks of a 10 ms QTimer on the GUI thread (a stall shows up as a long gap),
  * runs text queries through the search field (submit → results on screen) and, as the baseline in the same run,
    the same query straight through `Library.search` on the same library.
Prints median [min, max] over the runs and the machine it ran on.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _machine() -> str:
    import numpy
    import PySide6

    cpu = platform.processor()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    return (
        f"{os.cpu_count()} CPUs ({cpu}); Python {platform.python_version()}; PySide6 {PySide6.__version__}; "
        f"numpy {numpy.__version__}"
    )


def one_run(images: int, delay_s: float, queries: int) -> dict:
    from PIL import Image
    from PySide6.QtWidgets import QApplication

    from app.library_opener import library_opener
    from app.ui.app_controller import AppController
    from app.ui.main_window import MainWindow
    from engine.types import QueryTerm, SearchQuery
    from tests.app.event_loop_probe import EventLoopProbe
    from tests.fakes import FakeEncoder

    app = QApplication.instance()
    root = Path(tempfile.mkdtemp(prefix="gui-bench-"))
    os.environ["PMC_SEARCH_HOME"] = str(root / "home")
    folder = root / "figures"
    folder.mkdir()
    for i in range(images):
        Image.new("RGB", (96, 96), ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256)).save(folder / f"f{i:05d}.png")
        (folder / f"f{i:05d}.txt").write_text(f"figure {i} {'red' if i % 3 == 0 else 'blue'} chest scan")
    fake_model = lambda spec, device, offline, progress: FakeEncoder(dim=64, delay=delay_s)  # noqa: E731
    window = MainWindow(AppController(library_opener(fake_model)))
    window.resize(1280, 800)
    window.show()

    def pump_until(condition, timeout=600.0):
        end = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > end:
                raise TimeoutError
            app.processEvents()
            time.sleep(0.001)

    opened = []
    window.controller.library_opened.connect(opened.append)
    window.controller.open_library(root / "library", window.settings.model_spec)
    pump_until(lambda: opened)

    probe = EventLoopProbe(interval_ms=10)
    finished = []
    window.controller.ingest_finished.connect(finished.append)
    started = time.monotonic()
    probe.start()
    window.add_sources([folder], "folder")
    gui_ms, direct_ms = [], []
    pump_until(lambda: window.controller.library is not None and window.controller.ingest_running)
    pump_until(lambda: time.monotonic() - started > 1.0)  # some figures indexed
    for q in range(queries):
        if finished:
            break
        got = []
        window.controller.results_ready.connect(lambda rid, page, got=got: got.append(page))
        t0 = time.monotonic()
        window.search_field.setText(f"red chest {q}")
        window.search_bar.submit_now()
        pump_until(lambda got=got: got and got[-1] is not None)
        gui_ms.append((time.monotonic() - t0) * 1000)
        t0 = time.monotonic()
        window.controller.library.search(SearchQuery(terms=(QueryTerm(text=f"red chest {q}"),), limit=200))
        direct_ms.append((time.monotonic() - t0) * 1000)
    pump_until(lambda: finished)
    probe.stop()
    gaps = probe.gaps
    seconds = time.monotonic() - started
    window.close()
    pump_until(lambda: window.shut_down)
    gaps_ms = sorted(g * 1000 for g in gaps)
    return {
        "index_s": seconds,
        "max_gap_ms": gaps_ms[-1],
        "p99_gap_ms": gaps_ms[int(0.99 * (len(gaps_ms) - 1))],
        "gui_search_ms": statistics.median(gui_ms) if gui_ms else float("nan"),
        "direct_search_ms": statistics.median(direct_ms) if direct_ms else float("nan"),
        "queries": len(gui_ms),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=20.0, help="pretend model time per image")
    parser.add_argument("--queries", type=int, default=5)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    from app.gui_main import create_application

    create_application()
    print(f"machine: {_machine()}")
    print(
        f"setup: {args.images} images, FakeEncoder {args.delay_ms:g} ms/image, real Library, offscreen, "
        f"{args.runs} runs, up to {args.queries} queries per run while indexing"
    )
    runs = [one_run(args.images, args.delay_ms / 1000, args.queries) for _ in range(args.runs)]
    for key, unit in (
        ("index_s", "s"),
        ("max_gap_ms", "ms"),
        ("p99_gap_ms", "ms"),
        ("gui_search_ms", "ms"),
        ("direct_search_ms", "ms"),
    ):
        values = [r[key] for r in runs]
        print(
            f"{key:>17}: median {statistics.median(values):8.1f} {unit}  [min {min(values):.1f}, max {max(values):.1f}]"
        )
    print(f"queries measured per run: {[r['queries'] for r in runs]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
