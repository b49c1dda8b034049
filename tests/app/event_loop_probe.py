"""Measures how long the GUI thread goes without running its event loop (used by tests and the GUI benchmark)."""

from __future__ import annotations

import time

from PySide6.QtCore import QTimer


class EventLoopProbe:
    """A QTimer that records the time between its ticks: a long gap means the GUI thread was blocked."""

    def __init__(self, interval_ms: int = 20):
        self.gaps: list[float] = []
        self._last = time.monotonic()
        self._timer = QTimer(interval=interval_ms)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.monotonic()
        self.gaps.append(now - self._last)
        self._last = now

    def start(self) -> None:
        self._last = time.monotonic()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def __enter__(self) -> EventLoopProbe:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
