"""`pmc-search --startup-probe QUERY` (hidden; used by `python -m bench.startup`): report when the window was
first painted and when the first results of QUERY arrived, as Unix times on stdout, then quit.

The benchmark starts the real entry point and compares these times with the moment it launched the process, so
what is measured is what a user waits for: the interpreter, the imports, the window, the model load, one search.
"""

from __future__ import annotations

import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer

PREFIX = "startup-probe"


class StartupProbe(QObject):
    def __init__(self, window, query: str):
        super().__init__(window)
        self.window, self.query = window, query
        self.painted = False
        window.installEventFilter(self)
        window.controller.library_opened.connect(self._search)
        window.controller.results_ready.connect(self._results)
        window.controller.error.connect(self._failed)

    def eventFilter(self, watched, event) -> bool:
        if not self.painted and watched is self.window and event.type() == QEvent.Type.Paint:
            self.painted = True
            self._say(f"window-shown {time.time():.4f}")
        return False

    def _search(self, _info) -> None:
        self._say(f"library-open {time.time():.4f}")
        self.window.search_field.setText(self.query)
        self.window.search_bar.submit_now()

    def _results(self, _request_id, page) -> None:
        if page is None:
            return
        self._say(f"first-results {time.time():.4f} {len(page.results)}")
        self._finish()

    def _failed(self, message: str) -> None:
        self._say(f"failed {message}")
        self._finish()

    def _finish(self) -> None:
        self.window.controller.results_ready.disconnect(self._results)
        QTimer.singleShot(0, self.window.close)

    @staticmethod
    def _say(text: str) -> None:
        print(f"{PREFIX} {text}", flush=True, file=sys.stdout)
