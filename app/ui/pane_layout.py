"""How the window shares its width: library panel | results grid | detail pane.

The grid keeps at least two columns of cards: when the window is narrow the detail pane narrows, and below that
the library panel folds away while the detail pane is open (it comes back when the detail closes).
"""

from __future__ import annotations

from dataclasses import dataclass

LEFT_WIDTH, LEFT_MIN = 300, 270  # below 270 px "Import PMC articles…" is cut
DETAIL_WIDTH, DETAIL_MIN = 440, 340  # below 340 px the detail's buttons and links are cut off
MIN_COLUMNS = 2


@dataclass(frozen=True)
class PaneSizes:
    left: int  # 0: folded away
    centre: int
    detail: int  # 0: closed


def plan_panes(total: int, cell_width: int, detail_open: bool, chrome: int = 40) -> PaneSizes:
    """Widths for a window `total` pixels wide whose grid cells are `cell_width` wide; `chrome` covers the grid's
    scroll bar, frame and the splitter handles."""
    grid_min = MIN_COLUMNS * cell_width + chrome
    left = max(LEFT_MIN, min(LEFT_WIDTH, total // 4))
    if not detail_open:
        return PaneSizes(left, total - left, 0)
    room = total - left - grid_min
    if room >= DETAIL_MIN:
        detail = min(DETAIL_WIDTH, room)
        return PaneSizes(left, total - left - detail, detail)
    detail = max(DETAIL_MIN, min(DETAIL_WIDTH, total - grid_min))
    return PaneSizes(0, total - detail, detail)
