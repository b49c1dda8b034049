"""Synthetic biomedical-looking figures whose captions describe what is drawn.

Each kind draws one figure with a few attributes (colour, count, orientation, position, rate…) picked from `rng`,
and writes a caption naming them in varied wording. Retrieval on these pairs is learnable (the attributes are
visible) but not trivial: kinds share colours and counts, wording varies, and captions carry filler sentences.
Coordinates are fractions of the side S, so any image size works; everything is drawn with PIL for speed.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Rgb = tuple[int, int, int]
FigureDrawer = Callable[[np.random.Generator, int], tuple[Image.Image, str]]

PLOT_COLOURS: dict[str, Rgb] = {
    "red": (214, 39, 40),
    "blue": (31, 90, 200),
    "green": (44, 160, 44),
    "orange": (245, 130, 20),
    "purple": (128, 60, 170),
    "black": (25, 25, 25),
}
FLUOR_COLOURS: dict[str, Rgb] = {
    "green": (60, 255, 90),
    "red": (255, 50, 50),
    "blue": (70, 110, 255),
    "magenta": (255, 60, 230),
    "yellow": (250, 240, 60),
}
NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
]
FILLERS = [
    "Data are representative of three independent experiments.",
    "Error bars indicate standard deviation.",
    "Scale bar, 50 um.",
    "Representative image from the study cohort.",
    "See Methods for details.",
    "n = 3 biological replicates.",
    "Arrowheads indicate the region of interest.",
]


def pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def count_phrase(rng: np.random.Generator, n: int) -> str:
    """Counts written as digits or words, as captions do."""
    return NUMBER_WORDS[n] if n < len(NUMBER_WORDS) and rng.random() < 0.35 else str(n)


def with_filler(rng: np.random.Generator, caption: str) -> str:
    caption = caption[0].upper() + caption[1:]
    if not caption.endswith("."):
        caption += "."
    if rng.random() < 0.35:
        caption += " " + pick(rng, FILLERS)
    return caption


def jitter(rng: np.random.Generator, colour: Rgb, amount: int = 20) -> Rgb:
    return tuple(int(np.clip(c + rng.integers(-amount, amount + 1), 0, 255)) for c in colour)  # type: ignore[return-value]


def add_noise(image: Image.Image, rng: np.random.Generator, sigma: float) -> Image.Image:
    pixels = np.asarray(image, dtype=np.int16)
    noisy = pixels + rng.normal(0.0, sigma, size=pixels.shape).astype(np.int16)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), mode=image.mode)


def _axes(draw: ImageDraw.ImageDraw, s: int, width: int) -> tuple[float, float, float, float]:
    """Draw L-shaped axes; return the plot area (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = 0.14 * s, 0.08 * s, 0.94 * s, 0.86 * s
    draw.line([(x0, y0), (x0, y1), (x1, y1)], fill=(40, 40, 40), width=width)
    for k in range(1, 5):  # tick marks, so plots look like plots
        y = y1 - k * (y1 - y0) / 5
        draw.line([(x0 - 0.02 * s, y), (x0, y)], fill=(40, 40, 40), width=max(1, width // 2))
    return x0, y0, x1, y1


def bar_chart(rng: np.random.Generator, s: int) -> tuple[Image.Image, str]:
    n = int(rng.integers(2, 8))
    colour = pick(rng, list(PLOT_COLOURS))
    horizontal = rng.random() < 0.35
    image = Image.new("RGB", (s, s), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = _axes(draw, s, max(1, s // 48))
    heights = rng.uniform(0.2, 1.0, n)
    slot = ((y1 - y0) if horizontal else (x1 - x0)) / n
    for i, h in enumerate(heights):
        a, b = i * slot + 0.15 * slot, (i + 1) * slot - 0.15 * slot
        fill = jitter(rng, PLOT_COLOURS[colour], 12)
        if horizontal:
            draw.rectangle([x0 + 1, y0 + a, x0 + h * (x1 - x0), y0 + b], fill=fill)
        else:
            draw.rectangle([x0 + a, y1 - h * (y1 - y0), x0 + b, y1 - 1], fill=fill)
    orient = "horizontal" if horizontal else "vertical"
    c = count_phrase(rng, n)
    caption = pick(
        rng,
        [
            f"bar chart with {c} {colour} {orient} bars",
            f"{orient} bar graph showing {c} {colour} bars comparing treatment groups",
            f"{colour} bars ({c} groups) in a {orient} bar plot of mean expression",
            f"quantification shown as a {orient} bar chart of {c} {colour} columns",
        ],
    )
    return add_noise(image, rng, 3), with_filler(rng, caption)


def line_plot(rng: np.random.Generator, s: int) -> tuple[Image.Image, str]:
    colour = pick(rng, list(PLOT_COLOURS))
    trend = pick(rng, ["increasing", "decreasing", "oscillating"])
    image = Image.new("RGB", (s, s), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = _axes(draw, s, max(1, s // 48))
    t = np.linspace(0, 1, 24)
    if trend == "increasing":
        y = 0.1 + 0.8 * t ** rng.uniform(0.5, 2.0)
    elif trend == "decreasing":
        y = 0.9 - 0.8 * t ** rng.uniform(0.5, 2.0)
    else:
        y = 0.5 + 0.35 * np.sin(2 * np.pi * rng.uniform(1.5, 3.5) * t + rng.uniform(0, 6.3))
    y = np.clip(y + rng.normal(0, 0.03, t.shape), 0.02, 0.98)
    points = [(x0 + ti * (x1 - x0), y1 - yi * (y1 - y0)) for ti, yi in zip(t, y, strict=True)]
    draw.line(points, fill=PLOT_COLOURS[colour], width=max(1, s // 40))
    noun = pick(rng, ["line graph", "line plot", "time-course plot", "curve"])
    article = "an" if trend[0] in "aeiou" else "a"
    caption = pick(
        rng,
        [
            f"{noun} of {article} {trend} {colour} trace over time",
            f"{noun} showing {'an' if colour[0] in 'aeiou' else 'a'} {colour} line with {article} {trend} trend",
            f"{colour} {noun} with {trend} signal during follow-up",
        ],
    )
    return add_noise(image, rng, 3), with_filler(rng, caption)


def scatter_plot(rng: np.random.Generator, s: int) -> tuple[Image.Image, str]:
    colour = pick(rng, list(PLOT_COLOURS))
    relation = pick(rng, ["positive", "negative", "no"])
    image = Image.new("RGB", (s, s), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = _axes(draw, s, max(1, s // 48))
    xs = rng.uniform(0.05, 0.95, 40)
    slope = {"positive": 0.8, "negative": -0.8, "no": 0.0}[relation]
    ys = np.clip(0.5 + slope * (xs - 0.5) + rng.normal(0, 0.12 if relation != "no" else 0.25, 40), 0.03, 0.97)
    r = max(1.0, s / 70)
    for xi, yi in zip(xs, ys, strict=True):
        cx, cy = x0 + xi * (x1 - x0), y1 - yi * (y1 - y0)
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=PLOT_COLOURS[colour])
    corr = "no correlation" if relation == "no" else f"a {relation} correlation"
    caption = pick(
        rng,
        [
            f"scatter plot of {colour} points showing {corr}",
            f"{colour} dots in a scatter plot with {corr} between the two markers",
            f"correlation analysis: scatter plot with {corr}, {colour} symbols",
        ],
    )
    return add_noise(image, rng, 3), with_filler(rng, caption)


def pie_chart(rng: np.random.Generator, s: int) -> tuple[Image.Image, str]:
    n = int(rng.integers(2, 7))
    names = list(PLOT_COLOURS)
    order = rng.permutation(len(names))[:n]
    shares = rng.dirichlet(np.full(n, 2.0))
    biggest = names[order[int(np.argmax(shares))]]
    image = Image.new("RGB", (s, s), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    start = rng.uniform(0, 360)
    box = [0.12 * s, 0.12 * s, 0.88 * s, 0.88 * s]
    for k, share in zip(order, shares, strict=True):
        end = start + 360 * share
        draw.pieslice(box, start, end, fill=PLOT_COLOURS[names[k]], outline=(255, 255, 255))
        start = end
    c = count_phrase(rng, n)
    caption = pick(
        rng,
        [
            f"pie chart with {c} segments, the largest in {biggest}",
            f"proportions shown as a pie chart of {c} categories; {biggest} is the largest share",
            f"distribution of cases: pie chart with {c} slices, mostly {biggest}",
        ],
    )
    return add_noise(image, rng, 2), with_filler(rng, caption)


def he_micrograph(rng: np.random.Generator, s: int) -> tuple[Image.Image, str]:
    density = pick(rng, ["sparse", "moderate", "dense"])
    n = {"sparse": 18, "moderate": 45, "dense": 90}[density] + int(rng.integers(-5, 6))
    image = Image.new("RGB", (s, s), jitter(rng, (236, 170, 200), 15))
    draw = ImageDraw.Draw(image)
    for _ in range(25):  # eosin-pink stroma fibres
        x, y = rng.uniform(0, s, 2)
        draw.line(
            [(x, y), (x + rng.uniform(-0.3, 0.3) * s, y + rng.uniform(-0.1, 0.1) * s)],
            fill=jitter(rng, (220, 120, 170), 20),
            width=max(1, s // 60),
        )
    region = pick(rng, ["upper left", "upper right", "lower left", "lower right", "centre"])
    cx, cy = {
        "upper left": (0.25, 0.25),
        "upper right": (0.75, 0.25),
        "lower left": (0.25, 0.75),
        "lower right": (0.75, 0.75),
        "centre": (0.5, 0.5),
    }[region]
    for i in range(n):
        if i < n // 3:  # a cluster of larger, darker (atypical) nuclei in the named region
            x, y = rng.normal(cx, 0.08, 2) * s
            r, fill = rng.uniform(0.03, 0.05) * s, jitter(rng, (70, 20, 110), 15)
        else:
            x, y = rng.uniform(0, 1, 2) * s
            r, fill = rng.uniform(0.015, 0.03) * s, jitter(rng, (120, 50, 160), 20)
        draw.ellipse([x - r, y - r * rng.uniform(0.7, 1.0), x + r, y + r], fill=fill)
    image = image.filter(ImageFilter.GaussianBlur(radius=max(0.5, s / 200)))
    caption = pick(
        rng,
        [
            f"H&E stained section with {density} nuclei and a cluster of atypical cells in the {region}",
            f"histology (hematoxylin and eosin) showing {density} cellularity; atypical nuclei in the {region}",
            f"photomicrograph of H&E tissue, {density} nuclear density, tumour focus at {region}",
        ],
    )
    return add_noise(image, rng, 5), with_filler(rng, caption)


def fluorescence_micrograph(rng: np.random.Generator, s: int) -> tuple[Image.Image, str]:
    n = int(rng.integers(2, 16))
    colour = pick(rng, list(FLUOR_COLOURS))
    image = Image.new("RGB", (s, s), (0, 0, 0))
    draw = ImageDraw.Draw(image)
    centres: list[tuple[float, float]] = []
    for _attempt in range(5000):  # cells apart from each other, so they can be counted (15 always fit)
        if len(centres) == n:
            break
        x, y = rng.uniform(0.1, 0.9, 2)
        if all((x - a) ** 2 + (y - b) ** 2 > 0.02 for a, b in centres):
            centres.append((x, y))
    n = len(centres)
    for x, y in centres:
        r = rng.uniform(0.035, 0.055) * s
        draw.ellipse([x * s - r, y * s - r, x * s + r, y * s + r], fill=jitter(rng, FLUOR_COLOURS[colour], 25))
    image = image.filter(ImageFilter.GaussianBlur(radius=max(0.6, s / 120)))
    c = count_phrase(rng, n)
    caption = pick(
        rng,
        [
            f"fluorescence micrograph with {c} {colour} cells",
            f"immunofluorescence image showing {c} {colour}-labelled nuclei on a dark background",
            f"confocal microscopy: {c} {colour} fluorescent cells",
        ],
    )
    return add_noise(image, rng, 4), with_filler(rng, caption)


LOBES = {  # radiological convention: the patient's left is on the image's right
    "upper right": (0.33, 0.35),
    "upper left": (0.67, 0.35),
    "lower right": (0.33, 0.65),
    "lower left": (0.67, 0.65),
}


def chest_radiograph(rng: np.random.Generator, s: int) -> tuple[Image.Image, str]:
    image = Image.new("L", (s, s), int(rng.integers(140, 180)))
    draw = ImageDraw.Draw(image)
    for cx in (0.33, 0.67):  # dark lungs
        draw.ellipse([(cx - 0.15) * s, 0.18 * s, (cx + 0.15) * s, 0.85 * s], fill=int(rng.integers(30, 60)))
    draw.rectangle([0.47 * s, 0.1 * s, 0.53 * s, 0.9 * s], fill=200)  # spine / mediastinum
    for k in range(6):  # bright rib lines
        y = (0.22 + 0.1 * k) * s
        draw.arc([0.12 * s, y - 0.06 * s, 0.48 * s, y + 0.1 * s], 200, 340, fill=215, width=max(1, s // 64))
        draw.arc([0.52 * s, y - 0.06 * s, 0.88 * s, y + 0.1 * s], 200, 340, fill=215, width=max(1, s // 64))
    finding = pick(rng, ["lesion", "lesion", "none"])
    lobe = pick(rng, list(LOBES))
    size = pick(rng, ["small", "large"])
    if finding == "lesion":
        cx, cy = LOBES[lobe]
        r = (0.04 if size == "small" else 0.08) * s
        x, y = cx * s + rng.normal(0, 0.02 * s), cy * s + rng.normal(0, 0.02 * s)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=int(rng.integers(210, 250)))
        caption = pick(
            rng,
            [
                f"grayscale chest radiograph showing a {size} bright lesion in the {lobe} lobe",
                f"chest X-ray with a {size} opacity in the {lobe} lung",
                f"frontal chest film: {size} nodule projecting over the {lobe} lobe",
            ],
        )
    else:
        caption = pick(
            rng,
            [
                "grayscale chest radiograph with clear lungs and no focal lesion",
                "normal chest X-ray without opacity",
                "frontal chest film showing no nodule",
            ],
        )
    image = image.filter(ImageFilter.GaussianBlur(radius=max(0.8, s / 80)))
    return add_noise(image, rng, 6).convert("RGB"), with_filler(rng, caption)


def bone_radiograph(rng: np.random.Generator, s: int) -> tuple[Image.Image, str]:
    orientation = pick(rng, ["vertical", "horizontal", "oblique"])
    fractured = rng.random() < 0.5
    image = Image.new("L", (s, s), int(rng.integers(15, 45)))
    draw = ImageDraw.Draw(image)
    angle = {"vertical": np.pi / 2, "horizontal": 0.0, "oblique": np.pi / 4}[orientation] + rng.normal(0, 0.08)
    d = np.array([np.cos(angle), np.sin(angle)])
    a, b = (0.5 - 0.42 * d) * s, (0.5 + 0.42 * d) * s
    draw.line([tuple(a), tuple(b)], fill=int(rng.integers(90, 120)), width=int(0.2 * s))  # soft tissue
    draw.line([tuple(a), tuple(b)], fill=int(rng.integers(200, 240)), width=int(0.09 * s))  # cortical bone
    if fractured:  # a dark gap across the shaft
        t = rng.uniform(0.35, 0.65)
        c = a + t * (b - a)
        n = np.array([-d[1], d[0]]) * 0.07 * s
        draw.line([tuple(c - n), tuple(c + n + d * 0.02 * s)], fill=20, width=max(2, s // 30))
    image = image.filter(ImageFilter.GaussianBlur(radius=max(0.6, s / 120)))
    if fractured:
        caption = pick(
            rng,
            [
                f"radiograph of a long bone in {orientation} position with a transverse fracture",
                f"X-ray showing a fractured {orientation} long bone",
                f"plain film: {orientation} shaft with a fracture line",
            ],
        )
    else:
        caption = pick(
            rng,
            [
                f"radiograph of an intact long bone in {orientation} position",
                f"X-ray of a {orientation} long bone without fracture",
                f"plain film: {orientation} shaft, no fracture",
            ],
        )
    return add_noise(image, rng, 5).convert("RGB"), with_filler(rng, caption)


def gel_electrophoresis(rng: np.random.Generator, s: int) -> tuple[Image.Image, str]:
    lanes = int(rng.integers(3, 9))
    strongest = int(rng.integers(1, lanes + 1))
    inverted = rng.random() < 0.5  # dark bands on light (blot) or bright bands on dark (ethidium gel)
    bg, fg = (225, 30) if inverted else (25, 230)
    image = Image.new("L", (s, s), bg)
    draw = ImageDraw.Draw(image)
    width = 0.9 * s / lanes
    rows = rng.uniform(0.15, 0.9, int(rng.integers(2, 5)))
    for lane in range(1, lanes + 1):
        x = 0.05 * s + (lane - 0.5) * width
        for y in rows:
            strength = 1.0 if lane == strongest else rng.uniform(0.15, 0.5)
            grey = int(bg + (fg - bg) * strength)
            h = (0.035 if lane == strongest else 0.018) * s
            draw.rectangle([x - 0.35 * width, y * s - h / 2, x + 0.35 * width, y * s + h / 2], fill=grey)
    image = image.filter(ImageFilter.GaussianBlur(radius=max(0.5, s / 150)))
    kind = "western blot" if inverted else "agarose gel"
    c = count_phrase(rng, lanes)
    caption = pick(
        rng,
        [
            f"{kind} with {c} lanes; the strongest band is in lane {strongest}",
            f"{kind} electrophoresis of {c} samples, lane {strongest} shows the most intense band",
            f"representative {kind} ({c} lanes) with highest expression in lane {strongest}",
        ],
    )
    return add_noise(image, rng, 4).convert("RGB"), with_filler(rng, caption)


def ecg_trace(rng: np.random.Generator, s: int) -> tuple[Image.Image, str]:
    rhythm = pick(rng, ["bradycardia", "normal sinus rhythm", "tachycardia"])
    low, high = {"bradycardia": (2, 3), "normal sinus rhythm": (4, 6), "tachycardia": (8, 10)}[rhythm]
    beats = int(rng.integers(low, high + 1))
    colour = pick(rng, ["black", "blue", "green"])
    image = Image.new("RGB", (s, s), (255, 240, 240))
    draw = ImageDraw.Draw(image)
    for k in range(1, 10):  # ECG paper grid
        g = k * s / 10
        draw.line([(g, 0), (g, s)], fill=(245, 190, 190), width=1)
        draw.line([(0, g), (s, g)], fill=(245, 190, 190), width=1)
    t = np.linspace(0, 1, 6 * s)
    phase = (t * beats + rng.uniform(0, 1)) % 1.0
    signal = 0.9 * np.exp(-(((phase - 0.5) / 0.012) ** 2)) - 0.15 * np.exp(-(((phase - 0.53) / 0.015) ** 2))
    signal += 0.12 * np.exp(-(((phase - 0.8) / 0.05) ** 2)) + 0.08 * np.exp(-(((phase - 0.3) / 0.03) ** 2))
    y = 0.62 - 0.45 * signal + rng.normal(0, 0.004, t.shape)
    draw.line(list(zip(t * s, y * s, strict=True)), fill=PLOT_COLOURS[colour], width=max(1, s // 80))
    caption = pick(
        rng,
        [
            f"ECG strip showing {rhythm}, {colour} trace",
            f"electrocardiogram with {rhythm} ({beats} QRS complexes)",
            f"{colour} electrocardiographic tracing consistent with {rhythm}",
        ],
    )
    return image, with_filler(rng, caption)


def flow_diagram(rng: np.random.Generator, s: int) -> tuple[Image.Image, str]:
    n = int(rng.integers(2, 6))
    colour = pick(rng, ["blue", "green", "orange", "purple"])
    vertical = rng.random() < 0.5
    image = Image.new("RGB", (s, s), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    step = 0.9 / n
    boxes = []
    for i in range(n):
        a = 0.05 + i * step
        if vertical:
            boxes.append([0.25 * s, (a + 0.15 * step) * s, 0.75 * s, (a + 0.7 * step) * s])
        else:
            boxes.append([(a + 0.1 * step) * s, 0.35 * s, (a + 0.7 * step) * s, 0.65 * s])
    line_w = max(1, s // 60)
    for i, box in enumerate(boxes):
        draw.rectangle(box, fill=jitter(rng, PLOT_COLOURS[colour], 15), outline=(30, 30, 30), width=line_w)
        if i + 1 < n:
            nxt = boxes[i + 1]
            if vertical:
                x, y0, y1 = s / 2, box[3], nxt[1]
                draw.line([(x, y0), (x, y1)], fill=(30, 30, 30), width=line_w)
                draw.polygon([(x - 0.03 * s, y1 - 0.03 * s), (x + 0.03 * s, y1 - 0.03 * s), (x, y1)], fill=(30, 30, 30))
            else:
                y, x0, x1 = s / 2, box[2], nxt[0]
                draw.line([(x0, y), (x1, y)], fill=(30, 30, 30), width=line_w)
                draw.polygon([(x1 - 0.03 * s, y - 0.03 * s), (x1 - 0.03 * s, y + 0.03 * s), (x1, y)], fill=(30, 30, 30))
    direction = "top to bottom" if vertical else "left to right"
    c = count_phrase(rng, n)
    caption = pick(
        rng,
        [
            f"flow diagram with {c} {colour} boxes connected by arrows from {direction}",
            f"study flowchart: {c} {colour} steps arranged {direction}",
            f"schematic workflow of {c} stages ({colour} boxes, {direction})",
        ],
    )
    return image, with_filler(rng, caption)


FIGURE_KINDS: dict[str, FigureDrawer] = {
    "bar_chart": bar_chart,
    "line_plot": line_plot,
    "scatter_plot": scatter_plot,
    "pie_chart": pie_chart,
    "he_micrograph": he_micrograph,
    "fluorescence_micrograph": fluorescence_micrograph,
    "chest_radiograph": chest_radiograph,
    "bone_radiograph": bone_radiograph,
    "gel_electrophoresis": gel_electrophoresis,
    "ecg_trace": ecg_trace,
    "flow_diagram": flow_diagram,
}
