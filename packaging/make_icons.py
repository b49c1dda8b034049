"""Draw the app icon into resources/icons/: PNGs for Linux menus and Qt, an .ico (Windows) and an .icns (macOS).

Run from the repository root: `python packaging/make_icons.py`. The icon is drawn, not downloaded: a figure
panel (an X-ray-like image with a plotted line) under a magnifying glass, on the product's blue.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "resources" / "icons"
NAME = "pmc-figure-search"
PNG_SIZES = (16, 32, 48, 64, 128, 256, 512)
MASTER = 1024
BLUE, DARK, WHITE, AMBER = (37, 99, 171), (15, 38, 72), (250, 250, 250), (245, 166, 35)


def _figure_panel(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int]) -> None:
    x0, y0, x1, y1 = box
    draw.rounded_rectangle(box, radius=40, fill=DARK, outline=WHITE, width=28)
    # ribs of a chest radiograph, then a rising plot line: "figures" from papers
    for i in range(4):
        y = y0 + 110 + i * 70
        draw.arc((x0 + 70, y, x1 - 70, y + 190), 200, 340, fill=(200, 210, 225), width=22)
    points = [(x0 + 80, y1 - 90), (x0 + 200, y1 - 160), (x0 + 300, y1 - 130), (x1 - 90, y1 - 280)]
    draw.line(points, fill=AMBER, width=30, joint="curve")


def _magnifier(draw: ImageDraw.ImageDraw, centre: tuple[int, int], radius: int) -> None:
    cx, cy = centre
    handle_start = (cx + int(radius * 0.72), cy + int(radius * 0.72))
    handle_end = (cx + int(radius * 1.55), cy + int(radius * 1.55))
    draw.line((handle_start, handle_end), fill=WHITE, width=100)
    draw.ellipse((cx - radius, cy - radius, cx + radius, cy + radius), outline=WHITE, width=70)


def draw_master() -> Image.Image:
    image = Image.new("RGBA", (MASTER, MASTER), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((32, 32, MASTER - 32, MASTER - 32), radius=200, fill=BLUE)
    _figure_panel(draw, (130, 150, 700, 700))
    _magnifier(draw, (620, 600), 170)
    return image.filter(ImageFilter.SMOOTH)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    master = draw_master()
    for size in PNG_SIZES:
        master.resize((size, size), Image.Resampling.LANCZOS).save(OUT / f"{NAME}-{size}.png", optimize=True)
    master.save(OUT / f"{NAME}.ico", sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    master.resize((512, 512), Image.Resampling.LANCZOS).save(OUT / f"{NAME}.icns")
    print(f"icons written to {OUT}")


if __name__ == "__main__":
    main()
