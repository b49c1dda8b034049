"""Decode any image a user or a data set hands us into an 8-bit RGB PIL image.

Ordinary formats go through Pillow; DICOM goes through pydicom, with the display pipeline a radiologist's viewer
applies (modality LUT → VOI LUT or window → 8-bit, MONOCHROME1 inverted). Every failure becomes one
`ImageDecodeError` naming the file and the reason, so a batch can count it and move on.

Thread-safe: nothing here holds state, so the ingest prefetch pool may call it from many threads.
"""

from __future__ import annotations

import io
import logging
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from engine.errors import ImageDecodeError
from engine.fileio import NotRegularFileError, open_regular

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".bmp", ".gif", ".webp", ".dcm", ".dicom"}
)
DICOM_EXTENSIONS: frozenset[str] = frozenset({".dcm", ".dicom"})

_DICOM_MAGIC_OFFSET = 128
_DICOM_MAGIC = b"DICM"
_EXIF_ORIENTATION = 0x0112


def _max_pixels() -> int:
    # Read at call time so a caller (or a test) may lower Pillow's global limit and have DICOM obey it too.
    return int(Image.MAX_IMAGE_PIXELS or 0)


def has_dicom_preamble(head: bytes) -> bool:
    return head[_DICOM_MAGIC_OFFSET : _DICOM_MAGIC_OFFSET + 4] == _DICOM_MAGIC


def is_dicom_file(path: str | Path) -> bool:
    """True when the file starts with DICOM's 128-byte preamble and "DICM" (whatever its name says)."""
    try:
        with Path(path).open("rb") as handle:
            return has_dicom_preamble(handle.read(_DICOM_MAGIC_OFFSET + 4))
    except OSError:
        return False


def is_image_path(path: str | Path) -> bool:
    """True for a file this module can probably decode: by extension, or a DICOM preamble when there is none.

    Extension-less files are common in DICOM exports (`IM000123`); any other unknown file is not an image.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        return True
    if suffix and not suffix[1:].isdigit():  # "IM.0001" style names end in digits and may still be DICOM
        return False
    return is_dicom_file(path)


def open_image(path: str | Path, *, reduce_to: int | None = None) -> Image.Image:
    """Decode `path` into an RGB image. Raises `ImageDecodeError` naming the file on any failure.

    `reduce_to`: the smallest side wanted. A JPEG at least twice that size on both sides is then decoded at 1/2, 1/4
    or 1/8 scale (libjpeg's DCT scaling: the largest that keeps both sides >= `reduce_to`), which costs a fraction
    of decoding it whole and resizing from there. Other formats decode whole.
    """
    path = Path(path)
    try:
        with open_regular(path) as handle:  # never a FIFO or a device: those would block or never end
            head = handle.read(_DICOM_MAGIC_OFFSET + 4)
            handle.seek(0)
            if path.suffix.lower() in DICOM_EXTENSIONS or has_dicom_preamble(head):
                return _decode_dicom(handle, path.name)
            return _decode_pillow(handle, path.name, reduce_to)
    except ImageDecodeError:
        raise
    except NotRegularFileError as e:
        raise ImageDecodeError(f"{path.name}: cannot read the file ({e})") from e
    except OSError as e:
        raise ImageDecodeError(f"{path.name}: cannot read the file ({e.strerror or e})") from e


def image_from_bytes(data: bytes, name: str = "", *, reduce_to: int | None = None) -> Image.Image:
    """Decode image bytes (an upload, an archive member) into an RGB image; `name` is used in error messages;
    `reduce_to` as in `open_image`."""
    label = name or "<bytes>"
    handle = io.BytesIO(data)
    if Path(name).suffix.lower() in DICOM_EXTENSIONS or has_dicom_preamble(data[: _DICOM_MAGIC_OFFSET + 4]):
        return _decode_dicom(handle, label)
    return _decode_pillow(handle, label, reduce_to)


# --------------------------------------------------------------------------------------------------- Pillow


def _decode_pillow(handle: BinaryIO, name: str, reduce_to: int | None = None) -> Image.Image:
    try:
        with Image.open(handle) as img:
            width, height = img.size
            limit = _max_pixels()
            if limit and width * height > limit:
                raise ImageDecodeError(
                    f"{name}: {width}x{height} pixels is over the limit of {limit} (decompression bomb?)"
                )
            if reduce_to and img.format == "JPEG":
                # Pillow picks the largest of 1/8, 1/4, 1/2 that keeps both sides >= reduce_to (or none).
                img.draft(None, (reduce_to, reduce_to))
            # Multi-page TIFFs and animated GIF/WebP: the first page/frame is the figure.
            first = next(iter(ImageSequence.Iterator(img)))
            first.load()
            # Phone photos (clinical photographs) store their rotation in EXIF; show them upright.
            upright = ImageOps.exif_transpose(first) if first.getexif().get(_EXIF_ORIENTATION, 1) != 1 else first
            return _to_rgb(upright)
    except ImageDecodeError:
        raise
    except Image.DecompressionBombError as e:
        raise ImageDecodeError(f"{name}: too many pixels (decompression bomb?): {e}") from e
    except UnidentifiedImageError as e:
        raise ImageDecodeError(f"{name}: not an image format this program reads") from e
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as e:
        raise ImageDecodeError(f"{name}: corrupt or truncated image ({e})") from e


def _to_rgb(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode == "RGB":
        return img.copy()
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # Scientific TIFFs: 16-bit or float grey. Stretch the range actually used so the figure is visible;
        # a plain convert() would clip everything above 255 to white.
        return _grey_to_rgb(_stretch_to_uint8(np.asarray(img)))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        # Transparent figure backgrounds are meant to sit on a white page, not on black.
        rgba = img.convert("RGBA")
        canvas = Image.new("RGB", rgba.size, (255, 255, 255))
        canvas.paste(rgba, mask=rgba.getchannel("A"))
        return canvas
    return img.convert("RGB")


def _stretch_to_uint8(arr: np.ndarray) -> np.ndarray:
    values = arr.astype(np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(arr.shape, dtype=np.uint8)
    lo, hi = float(values[finite].min()), float(values[finite].max())
    if hi <= lo:
        return np.zeros(arr.shape, dtype=np.uint8)
    scaled = (np.where(finite, values, lo) - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)


def _grey_to_rgb(arr: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(arr), mode="L").convert("RGB")


# --------------------------------------------------------------------------------------------------- DICOM


@dataclass(frozen=True)
class DicomGrey:
    """A greyscale DICOM frame in real units, for a viewer that lets the reader change the window.

    `values` are after the modality LUT (Hounsfield units for CT); `center`/`width` are the file's default window
    (or the full range when it names none); `inverted` is MONOCHROME1 (low values white).
    """

    values: np.ndarray  # float32 [rows, cols]
    center: float
    width: float
    inverted: bool
    modality: str  # "CT", "MR", "CR", … ("" when the file does not say)

    def render(self, center: float | None = None, width: float | None = None) -> np.ndarray:
        """8-bit grey [rows, cols] through a linear window (the default one when not given)."""
        grey = _window(self.values, self.center if center is None else center,
                       self.width if width is None else width, "LINEAR")
        return 255 - grey if self.inverted else grey


def read_dicom_grey(path: str | Path) -> DicomGrey | None:
    """The first frame of a greyscale DICOM file for windowing; None for a colour one (nothing to window).

    Raises `ImageDecodeError` naming the file, like `open_image`.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            ds, frame = _read_dicom_frame(handle, path.name)
    except OSError as e:
        raise ImageDecodeError(f"{path.name}: cannot read the file ({e.strerror or e})") from e
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    if photometric == "PALETTE COLOR" or int(ds.get("SamplesPerPixel", 1) or 1) == 3 or frame.ndim == 3:
        return None
    from pydicom.pixels import apply_modality_lut

    try:
        values = np.asarray(apply_modality_lut(frame, ds), dtype=np.float32)
        if "WindowCenter" in ds and "WindowWidth" in ds:
            center, width = _first_value(ds.WindowCenter), max(_first_value(ds.WindowWidth), 1.0)
        else:
            finite = values[np.isfinite(values)]
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            center, width = (lo + hi) / 2, max(hi - lo, 1.0)
    except (ValueError, AttributeError, KeyError, TypeError, IndexError) as e:
        raise ImageDecodeError(f"{path.name}: cannot display DICOM pixel data ({_first_line(e)})") from e
    return DicomGrey(values, center, width, photometric == "MONOCHROME1", str(ds.get("Modality", "") or ""))


def _read_dicom_frame(handle: BinaryIO, name: str):
    """(dataset, first frame) with the size limit checked before any pixel is decoded."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        ds = pydicom.dcmread(handle, force=True)
    except (InvalidDicomError, OSError, ValueError, EOFError, KeyError) as e:
        raise ImageDecodeError(f"{name}: not a readable DICOM file ({e})") from e
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise ImageDecodeError(f"{name}: DICOM file has no image (no Pixel Data element)")
    rows, cols = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    limit = _max_pixels()
    if limit and rows * cols > limit:
        raise ImageDecodeError(f"{name}: {cols}x{rows} pixels is over the limit of {limit} (decompression bomb?)")
    syntax = _transfer_syntax_name(ds)
    try:
        from pydicom.pixels import pixel_array

        frame = pixel_array(ds, index=0)  # first frame only: a 500-slice series must not be decoded whole
    except (NotImplementedError, RuntimeError) as e:
        raise ImageDecodeError(
            f"{name}: cannot decode DICOM pixel data in transfer syntax {syntax}: {_first_line(e)}"
            " (install pylibjpeg / pylibjpeg-libjpeg / python-gdcm for compressed DICOM)"
        ) from e
    except (ValueError, AttributeError, KeyError, TypeError, EOFError) as e:
        raise ImageDecodeError(f"{name}: corrupt DICOM pixel data ({syntax}): {_first_line(e)}") from e
    return ds, frame


def _decode_dicom(handle: BinaryIO, name: str) -> Image.Image:
    ds, frame = _read_dicom_frame(handle, name)
    try:
        return _dicom_frame_to_rgb(frame, ds)
    except (ValueError, AttributeError, KeyError, TypeError, IndexError) as e:
        raise ImageDecodeError(f"{name}: cannot display DICOM pixel data ({_first_line(e)})") from e


def _transfer_syntax_name(ds) -> str:
    uid = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if uid is None:
        return "unknown (no file meta)"
    return f"{uid.name} ({uid})" if uid.name != str(uid) else str(uid)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _dicom_frame_to_rgb(frame: np.ndarray, ds) -> Image.Image:
    from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut

    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(frame, ds)
        bits = 16 if rgb.dtype.itemsize > 1 else 8
        return Image.fromarray(_bits_to_uint8(rgb, bits), mode="RGB")
    if samples == 3 or frame.ndim == 3:
        # pixel_array already converted YBR_FULL/YBR_FULL_422 to RGB; only the bit depth remains.
        bits = int(ds.get("BitsStored", 8) or 8)
        return Image.fromarray(_bits_to_uint8(frame, bits), mode="RGB")

    values = apply_modality_lut(frame, ds)  # stored values → real units (HU for CT)
    if "VOILUTSequence" in ds:
        lut = apply_voi_lut(values, ds, index=0, prefer_lut=True)
        lut_bits = int(ds.VOILUTSequence[0].LUTDescriptor[2])
        grey = _bits_to_uint8(lut, lut_bits)
    elif "WindowCenter" in ds and "WindowWidth" in ds:
        grey = _window(values, _first_value(ds.WindowCenter), _first_value(ds.WindowWidth),
                       str(ds.get("VOILUTFunction", "LINEAR")).upper())
    else:
        grey = _stretch_to_uint8(values)
    if photometric == "MONOCHROME1":  # MONOCHROME1 means low values are white
        grey = 255 - grey
    return _grey_to_rgb(grey)


def _first_value(value) -> float:
    # Window Centre/Width may be multi-valued (several presets); the first is the default one.
    if not isinstance(value, (str, bytes, int, float)) and len(value) > 0:
        value = value[0]
    return float(value)


def _window(values: np.ndarray, center: float, width: float, function: str) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2 window → [0, 255]."""
    x = values.astype(np.float64)
    if function == "SIGMOID":
        out = 255.0 / (1.0 + np.exp(-4.0 * (x - center) / max(width, 1e-6)))
    elif function == "LINEAR_EXACT":
        out = ((x - center) / max(width, 1e-6) + 0.5) * 255.0
    else:  # LINEAR: the standard's -0.5 / (w-1) form, width must be >= 1
        width = max(width, 1.0)
        out = ((x - (center - 0.5)) / max(width - 1.0, 1e-6) + 0.5) * 255.0
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _bits_to_uint8(arr: np.ndarray, bits: int) -> np.ndarray:
    if arr.dtype == np.uint8 and bits <= 8:
        return np.ascontiguousarray(arr)
    top = float((1 << max(bits, 1)) - 1)
    return np.clip(np.rint(arr.astype(np.float64) * (255.0 / top)), 0, 255).astype(np.uint8)
