"""Keep Python's garbage collector from freezing the window.

torch, transformers and a loaded model leave hundreds of thousands of long-lived objects on the heap. A full
(generation 2) collection walks all of them while holding the GIL — about 0.3 s on the 2-core machine we test
on, measured in tests/app/test_real_library_gui.py — and the GUI thread cannot run meanwhile. `gc.freeze()` moves
the objects alive now into a permanent generation that collections skip. We call it after each step that builds
such objects (the background import of the model code, a model load); garbage frozen by mistake is negligible.
"""

from __future__ import annotations

import gc


def freeze_long_lived_objects() -> None:
    gc.freeze()
