"""How long a user waits after launching the app: launch → window on screen, and launch → first results.

    python -m bench.startup [--runs 5] [--query "chest radiograph"] [--library DIR] [--platform offscreen]

Builds the bundled demo library (the real demo model, resources/demo-model) in a temporary PMC_SEARCH_HOME unless
`--library` names one, then launches the real entry point `python -m app --library LIB --startup-probe QUERY`
`--runs` times. The child prints when its window was first painted and when QUERY's first results arrived; both
are measured from the moment this script started the process (interpreter start, imports, window, model load,
search: everything the user waits for). One unmeasured launch warms the file cache first.

Baselines measured in the same run: `python -c pass` (the interpreter alone), `pmc-search --version`, and a bare
PySide6 window (import Qt, show an empty window, first paint): the floor any Qt app pays.
Prints median [min, max] of each, and the machine with its load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.machine_info import describe

ROOT = Path(__file__).resolve().parent.parent
BARE_QT_WINDOW = """
import sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QLabel
app = QApplication(sys.argv[:1])
label = QLabel("bare window")
class First(QObject):
    def eventFilter(self, watched, event):
        if event.type() == QEvent.Type.Paint:
            print(f"startup-probe window-shown {time.time():.4f}", flush=True)
            QTimer.singleShot(0, app.quit)
            watched.removeEventFilter(self)
        return False
first = First()
label.installEventFilter(first)
label.resize(1280, 800)
label.show()
app.exec()
"""


def _launch(argv: list[str], env: dict[str, str], timeout_s: float) -> tuple[float, dict[str, float]]:
    """Start `argv`; returns (seconds until it exited, {event: seconds after the start})."""
    started = time.time()
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout_s, cwd=ROOT)
    ended = time.time()
    events: dict[str, float] = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0] == "startup-probe":
            if parts[1] == "failed":
                raise SystemExit(f"the app reported a failure: {' '.join(parts[2:])}")
            events[parts[1]] = float(parts[2]) - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return ended - started, events


def _summary(values: list[float]) -> str:
    return f"{statistics.median(values):6.2f} s  [{min(values):.2f}, {max(values):.2f}]"


def _build_demo_library(home: Path) -> Path:
    from app import demo

    spec = demo.demo_model_spec()
    if spec is None:
        raise SystemExit("resources/demo-model is missing: pass --library DIR with a library to open")
    library_dir = home / "library"
    demo.build_demo_library(library_dir, spec, figures_dir=home / "figures").close()
    return library_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--query", default="chest radiograph")
    parser.add_argument("--library", type=Path, help="an existing library (default: build the demo one)")
    parser.add_argument("--platform", default="offscreen", help="QT_QPA_PLATFORM for the app (default offscreen)")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds one launch may take")
    args = parser.parse_args(argv)

    home = Path(tempfile.mkdtemp(prefix="startup-bench-"))
    env = dict(os.environ, PMC_SEARCH_HOME=str(home), QT_QPA_PLATFORM=args.platform, PYTHONPATH=str(ROOT))
    os.environ["PMC_SEARCH_HOME"] = str(home)
    library = args.library or _build_demo_library(home)
    python = sys.executable
    app_argv = [python, "-m", "app", "--library", str(library), "--startup-probe", args.query]

    print(describe())
    print(f"platform {args.platform}; library {library}; query {args.query!r}; {args.runs} runs after one warm-up")
    _launch(app_argv, env, args.timeout)  # warm-up: file cache, compiled bytecode
    rows: dict[str, list[float]] = {k: [] for k in ("interpreter", "version", "bare_qt", "window", "library",
                                                    "results")}
    for _ in range(args.runs):
        rows["interpreter"].append(_launch([python, "-c", "pass"], env, args.timeout)[0])
        rows["version"].append(_launch([python, "-m", "app", "--version"], env, args.timeout)[0])
        rows["bare_qt"].append(_launch([python, "-c", BARE_QT_WINDOW], env, args.timeout)[1]["window-shown"])
        _, events = _launch(app_argv, env, args.timeout)
        rows["window"].append(events["window-shown"])
        rows["library"].append(events["library-open"])
        rows["results"].append(events["first-results"])
    print(f"python -c pass (interpreter)        {_summary(rows['interpreter'])}")
    print(f"pmc-search --version                {_summary(rows['version'])}")
    print(f"bare PySide6 window, first paint    {_summary(rows['bare_qt'])}")
    print(f"launch → window painted             {_summary(rows['window'])}")
    print(f"launch → library open (model loaded){_summary(rows['library'])}")
    print(f"launch → first results              {_summary(rows['results'])}")
    ratio = statistics.median(rows["window"]) / statistics.median(rows["bare_qt"])
    print(f"window / bare Qt window: {ratio:.2f}×")
    print(describe().replace("machine:", "after:"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
