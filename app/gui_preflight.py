"""Before Qt starts: can it? If not, say why in words a user can act on — in a dialog, not a silent exit.

Qt cannot report its own start-up failures well: a missing system library makes `import PySide6.QtWidgets` raise,
and a platform plugin that does not load (e.g. xcb without libxcb-cursor0) makes Qt print to a terminal the user
never sees and abort the process. So the checks run first, in Python: import Qt, load the platform plugin Qt will
use (with dlopen, which names the missing library), and for X11 check that the display answers. A problem found
is logged and shown with the desktop's own dialog tool (zenity, kdialog or xmessage on Linux, a message box on
Windows, an alert on macOS), because Qt is the thing that does not work.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

logger = logging.getLogger(__name__)

TITLE = "PMC Figure Search cannot start"

# Libraries Qt needs from the system on Linux (PyInstaller leaves the graphics stack to the system, and wheels do
# not ship it), with the Debian/Ubuntu package that provides each: the hint a user or an admin can act on.
DEBIAN_PACKAGES = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xinerama.so.0": "libxcb-xinerama0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
}


class StartupProblem(Exception):
    """Why the window cannot open, as a sentence for the user."""


def _library_hint(error_text: str) -> str:
    """"… (on Debian/Ubuntu: sudo apt install libxcb-cursor0)" when the error names a library we know."""
    for library, package in DEBIAN_PACKAGES.items():
        if library in error_text:
            return (
                f" The system library {library} is missing; on Debian or Ubuntu install it with:"
                f" sudo apt install {package}"
            )
    return ""


def import_qt() -> None:
    try:
        import PySide6.QtGui  # noqa: F401
        import PySide6.QtWidgets  # noqa: F401
    except ImportError as error:
        hint = _library_hint(str(error))
        raise StartupProblem(f"Qt, the toolkit that draws the window, did not load: {error}.{hint}") from error


def platform_candidates(environ: dict[str, str]) -> list[str]:
    """The platform plugins Qt will try, in order (QT_QPA_PLATFORM may list several, separated by ';')."""
    if environ.get("QT_QPA_PLATFORM"):
        return [name.split(":")[0] for name in environ["QT_QPA_PLATFORM"].split(";") if name]
    if sys.platform == "win32":
        return ["windows"]
    if sys.platform == "darwin":
        return ["cocoa"]
    if environ.get("WAYLAND_DISPLAY") and environ.get("XDG_SESSION_TYPE") == "wayland":
        return ["wayland", "xcb"]
    return ["xcb"]


def plugin_file(name: str) -> Path | None:
    from PySide6.QtCore import QLibraryInfo

    folder = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
    matches = sorted(folder.glob(f"*q{name}.*"))
    return matches[0] if matches else None


def _x_display_answers(display: str) -> bool:
    """Open and close an X connection through libxcb, as Qt's xcb plugin will."""
    name = ctypes.util.find_library("xcb") or "libxcb.so.1"
    xcb = ctypes.CDLL(name)
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    try:
        return xcb.xcb_connection_has_error(connection) == 0
    finally:
        xcb.xcb_disconnect(connection)


def check_platform_plugin(name: str, environ: dict[str, str]) -> str | None:
    """None when plugin `name` can start here, else the reason."""
    path = plugin_file(name)
    if path is None:
        return f'Qt\'s platform plugin "{name}" is not installed with the program.'
    try:
        ctypes.CDLL(str(path))
    except OSError as error:
        reason = _loader_message(error)
        return f'Qt\'s platform plugin "{name}" did not load: {reason}.{_library_hint(reason)}'
    if name == "xcb":
        display = environ.get("DISPLAY")
        if not display:
            return "No graphical display was found (DISPLAY is not set): start the program from a desktop session."
        try:
            answers = _x_display_answers(display)
        except OSError as error:
            reason = _loader_message(error)
            return f"The X11 client library did not load: {reason}.{_library_hint(reason)}"
        if not answers:
            return f"The X display {display} does not answer: start the program from a desktop session."
    return None


def _loader_message(error: BaseException) -> str:
    """The dynamic loader's own words ("libxcb-cursor.so.0: cannot open shared object file …").

    In a bundle PyInstaller wraps ctypes.CDLL and replaces the message with a generic "Failed to load dynlib";
    the loader's message is kept as the exception's cause.
    """
    while error.__cause__ is not None:
        error = error.__cause__
    return str(error)


def choose_platform(environ: dict[str, str]) -> str:
    """The first platform plugin that can start; raises StartupProblem with every plugin's reason when none can."""
    if sys.platform in ("win32", "darwin") and not environ.get("QT_QPA_PLATFORM"):
        return platform_candidates(environ)[0]  # built into Qt's own platform support; nothing to dlopen
    reasons = []
    for name in platform_candidates(environ):
        reason = check_platform_plugin(name, environ)
        if reason is None:
            return name
        logger.info("platform plugin %s cannot start: %s", name, reason)
        reasons.append(reason)
    raise StartupProblem(" ".join(reasons))


def preflight(environ: dict[str, str] | None = None) -> None:
    """Raise StartupProblem when the window cannot open; pin QT_QPA_PLATFORM to the plugin that can."""
    environ = os.environ if environ is None else environ
    import_qt()
    chosen = choose_platform(environ)
    if len(platform_candidates(environ)) > 1:
        environ["QT_QPA_PLATFORM"] = chosen  # Qt would abort on the first broken one of a list


def _dialog_commands(title: str, text: str) -> list[list[str]]:
    return [
        ["zenity", "--error", "--no-markup", f"--title={title}", f"--text={text}"],
        ["kdialog", "--title", title, "--error", text],
        ["xmessage", "-center", _wrapped(f"{title}\n\n{text}")],  # xmessage does not wrap by itself
    ]


def _wrapped(text: str, width: int = 88) -> str:
    lines = (textwrap.fill(p, width, break_on_hyphens=False, break_long_words=False) for p in text.split("\n"))
    return "\n".join(lines)


def show_error_dialog(title: str, text: str) -> bool:
    """Show `text` with the platform's own dialog (Qt may be what failed); True when one was shown."""
    if sys.platform == "win32":
        ctypes.windll.user32.MessageBoxW(None, text, title, 0x10)  # MB_ICONERROR
        return True
    if sys.platform == "darwin":
        script = f"display alert {_applescript_string(title)} message {_applescript_string(text)} as critical"
        return _run_dialog(["osascript", "-e", script])
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    return any(shutil.which(command[0]) and _run_dialog(command) for command in _dialog_commands(title, text))


def _applescript_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _run_dialog(command: list[str]) -> bool:
    try:
        subprocess.run(command, check=False, timeout=600)
    except (OSError, subprocess.SubprocessError) as error:
        logger.warning("could not show the error dialog with %s: %s", command[0], error)
        return False
    return True


def report_startup_problem(problem: Exception, log_file: Path | None, dialog: bool = True) -> None:
    """Log, print and (unless `dialog` is False, as for the offscreen self-test) show `problem`, with the log's path."""
    where = f"\n\nDetails are in the log file {log_file}" if log_file else ""
    text = f"{problem}{where}"
    logger.info("cannot start the window: %s", problem)  # the console gets it once, below
    print(f"pmc-search: {TITLE}: {text}", file=sys.stderr)
    if dialog:
        show_error_dialog(TITLE, text)
