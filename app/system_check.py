"""Before the desktop app starts on Linux: are the system libraries Qt needs installed? Names the missing packages.

    python3 app/system_check.py        # what `make run` does first; exit 1 and the apt-get line when some are missing

Standard library only, so it runs with the system's python3 before the virtual environment exists. Without these
libraries Qt aborts with "Could not load the Qt platform plugin xcb", which does not say what to install.
The list is what PySide6's Qt libraries and its xcb platform plugin link against (checked with `ldd`), beyond what
every Debian/Ubuntu system has; the README's set-up section lists the same packages.
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable

# Shared library (soname) → the Debian/Ubuntu package that provides it.
QT_LIBRARIES = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libxkbcommon.so.0": "libxkbcommon0",
}
XCB_LIBRARIES = {  # the X11 platform plugin (xcb): needed on every X11 desktop, and as Wayland's fallback
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-glx.so.0": "libxcb-glx0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}


def installed_sonames() -> set[str] | None:
    """Sonames the dynamic linker knows (from `ldconfig -p`); None when ldconfig is not available."""
    ldconfig = shutil.which("ldconfig") or next(
        (p for p in ("/sbin/ldconfig", "/usr/sbin/ldconfig") if os.path.exists(p)), None
    )
    if ldconfig is None:
        return None
    try:
        out = subprocess.run([ldconfig, "-p"], capture_output=True, text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return set(re.findall(r"^\s*(\S+\.so(?:\.\d+)*)\s", out, flags=re.MULTILINE))


def loadable(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
        return True
    except OSError:
        return False


def missing_packages(needed: dict[str, str], present: Callable[[str], bool]) -> list[str]:
    return sorted({package for soname, package in needed.items() if not present(soname)})


def needed_libraries(environ: dict[str, str]) -> dict[str, str]:
    needed = dict(QT_LIBRARIES)
    if environ.get("QT_QPA_PLATFORM", "").split(":")[0] not in ("offscreen", "minimal", "vnc"):
        needed.update(XCB_LIBRARIES)
    return needed


def report(missing: Iterable[str]) -> str:
    missing = list(missing)
    return (
        "The desktop app needs these system packages, which are not installed:\n  " + " ".join(missing)
        + "\nInstall them with:\n  sudo apt-get install " + " ".join(missing)
        + "\n(then run `make run` again; on other distributions install the libraries of the same names)"
    )


def main(environ: dict[str, str] | None = None, present: Callable[[str], bool] | None = None) -> int:
    environ = dict(os.environ if environ is None else environ)
    if not sys.platform.startswith("linux"):
        return 0  # Qt's wheels carry what they need on macOS and Windows
    if present is None:
        known = installed_sonames()
        present = (lambda s: s in known or loadable(s)) if known is not None else loadable
    missing = missing_packages(needed_libraries(environ), present)
    if missing:
        print(report(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
