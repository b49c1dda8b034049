"""engine.imaging: every format decodes to RGB uint8 with the right pixel values; every failure is ImageDecodeError."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, SecondaryCaptureImageStorage, generate_uid

from engine.errors import ImageDecodeError
from engine.imaging import image_from_bytes, is_image_path, open_image


def write_dicom(path, pixels: np.ndarray, *, photometric="MONOCHROME2", frames=1, syntax=ExplicitVRLittleEndian,
                pixel_data: bytes | None = None, **elements):
    """A minimal but valid DICOM Part-10 file written by pydicom (what scanners' exports look like, minus tags)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    ds.PatientName = "Test^Synthetic"
    shape = pixels.shape[1:] if frames > 1 else pixels.shape
    ds.Rows, ds.Columns = shape[0], shape[1]
    ds.SamplesPerPixel = 3 if photometric in ("RGB", "YBR_FULL") else 1
    if ds.SamplesPerPixel == 3:
        ds.PlanarConfiguration = 0
    ds.PhotometricInterpretation = photometric
    bits = pixels.dtype.itemsize * 8
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 1 if pixels.dtype.kind == "i" else 0
    if frames > 1:
        ds.NumberOfFrames = frames
    for key, value in elements.items():
        setattr(ds, key, value)
    ds.PixelData = pixels.tobytes() if pixel_data is None else pixel_data
    ds.save_as(path, enforce_file_format=True)
    return path


def pixel(img: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    assert img.mode == "RGB"
    return img.getpixel((x, y))


# --------------------------------------------------------------------------------------------------- Pillow formats


@pytest.mark.parametrize("fmt,ext", [("PNG", ".png"), ("BMP", ".bmp"), ("WEBP", ".webp"), ("TIFF", ".tif")])
def test_lossless_formats_decode_exact_pixels(tmp_path, fmt, ext):
    arr = np.zeros((8, 10, 3), dtype=np.uint8)
    arr[:, :5] = (200, 10, 30)
    arr[:, 5:] = (0, 120, 250)
    path = tmp_path / f"x{ext}"
    Image.fromarray(arr).save(path, format=fmt, **({"lossless": True} if fmt == "WEBP" else {}))
    img = open_image(path)
    assert img.mode == "RGB" and img.size == (10, 8)
    assert pixel(img, 1, 1) == (200, 10, 30)
    assert pixel(img, 8, 6) == (0, 120, 250)


def test_jpeg_decodes_to_rgb(tmp_path):
    path = tmp_path / "x.jpg"
    Image.new("RGB", (16, 16), (100, 150, 200)).save(path, quality=95)
    r, g, b = pixel(open_image(path), 8, 8)
    assert abs(r - 100) <= 3 and abs(g - 150) <= 3 and abs(b - 200) <= 3


def _gradient(width: int, height: int) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :, None]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None, None]
    return Image.fromarray(np.broadcast_to((x + y) / 2, (height, width, 3)).astype(np.uint8))


@pytest.mark.parametrize(
    ("size", "reduce_to", "expected"),
    [
        ((1000, 800), 224, (500, 400)),  # 800 // 224 = 3: 1/2 is the largest scale that keeps both sides >= 224
        ((2000, 1800), 224, (250, 225)),  # 1/8
        ((1000, 800), 448, (1000, 800)),  # 1/2 would make 400 < 448: decoded whole
        ((300, 2000), 224, (300, 2000)),  # a tall strip: the short side decides
    ],
)
def test_a_large_jpeg_is_decoded_at_the_largest_scale_that_keeps_both_sides(tmp_path, size, reduce_to, expected):
    path = tmp_path / "figure.jpg"
    _gradient(*size).save(path, quality=92)
    reduced = open_image(path, reduce_to=reduce_to)
    assert reduced.size == expected and reduced.mode == "RGB"
    whole = open_image(path).resize(expected, Image.Resampling.BOX)
    # Same picture: the DCT-scaled decode matches a box-filtered whole decode within JPEG noise.
    assert np.abs(np.asarray(reduced, np.float32) - np.asarray(whole, np.float32)).mean() < 2.0
    assert image_from_bytes(path.read_bytes(), "figure.jpg", reduce_to=reduce_to).size == expected


def test_reduced_decoding_applies_only_to_jpeg_and_keeps_exif_rotation(tmp_path):
    png = tmp_path / "figure.png"
    _gradient(1000, 800).save(png)
    assert open_image(png, reduce_to=224).size == (1000, 800)
    rotated = tmp_path / "photo.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    _gradient(1000, 800).save(rotated, exif=exif, quality=92)
    assert open_image(rotated, reduce_to=224).size == (400, 500)  # reduced, then stood upright


def test_16bit_tiff_is_stretched_by_its_range(tmp_path):
    arr = np.array([[1000, 2000], [3000, 5000]], dtype=np.uint16)
    path = tmp_path / "scan.tif"
    Image.fromarray(arr).save(path)
    img = open_image(path)
    assert pixel(img, 0, 0) == (0, 0, 0)
    assert pixel(img, 1, 1) == (255, 255, 255)
    assert pixel(img, 1, 0)[0] == round((2000 - 1000) * 255 / 4000)


def test_multipage_tiff_gives_first_page(tmp_path):
    pages = [Image.new("RGB", (4, 4), c) for c in ((10, 20, 30), (240, 240, 240))]
    path = tmp_path / "stack.tiff"
    pages[0].save(path, save_all=True, append_images=pages[1:])
    assert pixel(open_image(path), 2, 2) == (10, 20, 30)


def test_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 0, 255))]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert pixel(open_image(path), 1, 1) == (255, 0, 0)


def test_transparent_png_sits_on_white(tmp_path):
    path = tmp_path / "chart.png"
    Image.new("RGBA", (3, 3), (0, 0, 0, 0)).save(path)
    assert pixel(open_image(path), 1, 1) == (255, 255, 255)


def test_image_from_bytes(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (5, 5), (1, 2, 3)).save(buf, format="PNG")
    assert pixel(image_from_bytes(buf.getvalue(), "a.png"), 0, 0) == (1, 2, 3)


def test_corrupt_and_unknown_files_raise_with_name(tmp_path):
    bad = tmp_path / "broken.png"
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buf, format="PNG")
    bad.write_bytes(buf.getvalue()[:60])
    with pytest.raises(ImageDecodeError, match="broken.png"):
        open_image(bad)
    text = tmp_path / "notes.jpg"
    text.write_text("hello")
    with pytest.raises(ImageDecodeError, match="notes.jpg"):
        open_image(text)
    with pytest.raises(ImageDecodeError, match="missing.png"):
        open_image(tmp_path / "missing.png")
    with pytest.raises(ImageDecodeError, match="blob"):
        image_from_bytes(b"\x00" * 50, "blob")


def test_decompression_bomb_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "big.png"
    Image.new("L", (200, 200)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageDecodeError, match="big.png.*limit"):
        open_image(path)
    dcm = write_dicom(tmp_path / "big.dcm", np.zeros((64, 64), dtype=np.uint8))
    with pytest.raises(ImageDecodeError, match="big.dcm.*limit"):
        open_image(dcm)


def test_is_image_path(tmp_path):
    assert is_image_path(tmp_path / "a.PNG") and is_image_path("b.tiff") and is_image_path("c.dcm")
    assert not is_image_path(tmp_path / "a.txt") and not is_image_path("paper.pdf")
    dicom = write_dicom(tmp_path / "IM000001", np.zeros((2, 2), dtype=np.uint8))
    plain = tmp_path / "README"
    plain.write_text("x" * 300)
    assert is_image_path(dicom)
    assert not is_image_path(plain)
    assert not is_image_path(tmp_path / "does-not-exist")


# --------------------------------------------------------------------------------------------------- DICOM


def test_dicom_monochrome2_without_window_is_stretched(tmp_path):
    arr = np.array([[0, 100], [200, 400]], dtype=np.uint16)
    img = open_image(write_dicom(tmp_path / "m2.dcm", arr))
    assert pixel(img, 0, 0) == (0, 0, 0) and pixel(img, 1, 1) == (255, 255, 255)
    assert pixel(img, 1, 0)[0] == 64  # 100 of 0..400


def test_dicom_monochrome1_is_inverted(tmp_path):
    arr = np.array([[0, 400]], dtype=np.uint16)
    img = open_image(write_dicom(tmp_path / "m1.dcm", arr, photometric="MONOCHROME1"))
    assert pixel(img, 0, 0) == (255, 255, 255) and pixel(img, 1, 0) == (0, 0, 0)


def test_dicom_rescale_then_window(tmp_path):
    # CT-like: stored 0..2000 with slope 1, intercept -1000 → HU -1000..1000; a soft-tissue window 40/400.
    arr = np.array([[1040, 840, 1240, 0]], dtype=np.uint16)  # HU 40, -160, 240, -1000
    path = write_dicom(tmp_path / "ct.dcm", arr, RescaleSlope=1, RescaleIntercept=-1000, WindowCenter=40,
                       WindowWidth=400)
    img = open_image(path)
    assert pixel(img, 0, 0)[0] in (127, 128)  # the window centre is mid-grey
    assert pixel(img, 1, 0)[0] == 0  # below the window
    assert pixel(img, 2, 0)[0] == 255  # above the window
    assert pixel(img, 3, 0)[0] == 0


def test_dicom_multi_valued_window_uses_first_preset(tmp_path):
    arr = np.array([[50, 350]], dtype=np.uint16)
    img = open_image(write_dicom(tmp_path / "w.dcm", arr, WindowCenter=[200, 5000], WindowWidth=[201, 10]))
    assert pixel(img, 0, 0)[0] == 0 and pixel(img, 1, 0)[0] == 255


def test_dicom_signed_16bit(tmp_path):
    arr = np.array([[-500, 0, 500]], dtype=np.int16)
    img = open_image(write_dicom(tmp_path / "s.dcm", arr))
    assert [pixel(img, x, 0)[0] for x in range(3)] == [0, 128, 255]


def test_dicom_multiframe_gives_first_frame(tmp_path):
    arr = np.stack([np.full((4, 4), 10, np.uint8), np.full((4, 4), 250, np.uint8)])
    arr[0, 0, 0] = 0
    arr[0, 3, 3] = 100
    img = open_image(write_dicom(tmp_path / "mf.dcm", arr, frames=2))
    assert pixel(img, 0, 0)[0] == 0 and pixel(img, 3, 3)[0] == 255 and pixel(img, 1, 1)[0] == round(10 * 2.55)


def test_dicom_rgb_and_ybr(tmp_path):
    rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    rgb[..., 0] = 200
    img = open_image(write_dicom(tmp_path / "rgb.dcm", rgb, photometric="RGB"))
    assert pixel(img, 0, 0) == (200, 0, 0)
    ybr = np.zeros((2, 2, 3), dtype=np.uint8)
    ybr[...] = (76, 85, 255)  # pure red in YBR_FULL (Y=76, Cb=85, Cr=255)
    r, g, b = pixel(open_image(write_dicom(tmp_path / "ybr.dcm", ybr, photometric="YBR_FULL")), 1, 1)
    assert r > 240 and g < 15 and b < 15


def test_dicom_extensionless_and_from_bytes(tmp_path):
    path = write_dicom(tmp_path / "IM0001", np.array([[0, 255]], dtype=np.uint8))
    assert pixel(open_image(path), 1, 0) == (255, 255, 255)
    assert pixel(image_from_bytes(path.read_bytes()), 0, 0) == (0, 0, 0)


def test_dicom_without_pixels_or_handler_names_the_problem(tmp_path):
    path = write_dicom(tmp_path / "nopix.dcm", np.zeros((2, 2), np.uint8))
    import pydicom

    ds = pydicom.dcmread(path)
    del ds.PixelData
    ds.save_as(path)
    with pytest.raises(ImageDecodeError, match="nopix.dcm.*no Pixel Data"):
        open_image(path)
    # JPEG-compressed pixel data that no installed handler can decode (or that is garbage): a clear error.
    from pydicom.encaps import encapsulate

    jpg = write_dicom(tmp_path / "jpeg.dcm", np.zeros((8, 8), np.uint8), syntax=JPEGBaseline8Bit,
                      pixel_data=encapsulate([b"\xff\xd8 not really a jpeg \xff\xd9"]))
    with pytest.raises(ImageDecodeError, match=r"jpeg.dcm.*JPEG Baseline"):
        open_image(jpg)


def test_dicom_rle_lossless_decodes_with_the_builtin_handler(tmp_path):
    import pydicom
    from pydicom.uid import RLELossless

    arr = np.array([[0, 1000], [2000, 4000]], dtype=np.uint16)
    path = write_dicom(tmp_path / "rle.dcm", arr)
    ds = pydicom.dcmread(path)
    ds.compress(RLELossless, arr)
    ds.save_as(path)
    assert pydicom.dcmread(path).file_meta.TransferSyntaxUID == RLELossless
    img = open_image(path)
    assert [pixel(img, x, y)[0] for y in range(2) for x in range(2)] == [0, 64, 128, 255]


def test_exif_rotation_is_applied(tmp_path):
    img = Image.new("RGB", (20, 10), (255, 255, 255))
    img.paste((0, 0, 0), (0, 0, 5, 10))  # black band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    path = tmp_path / "phone.jpg"
    img.save(path, exif=exif, quality=95)
    shown = open_image(path)
    assert shown.size == (10, 20)
    assert sum(pixel(shown, 5, 1)) < 60 and sum(pixel(shown, 5, 18)) > 700  # the band is now on top


def test_dicom_grey_gives_real_units_and_the_default_window_for_a_viewer(tmp_path):
    from engine.imaging import read_dicom_grey

    arr = np.array([[1040, 840, 1240, 0]], dtype=np.uint16)  # HU 40, -160, 240, -1000
    path = write_dicom(tmp_path / "ct.dcm", arr, RescaleSlope=1, RescaleIntercept=-1000, WindowCenter=40,
                       WindowWidth=400)
    grey = read_dicom_grey(path)
    assert grey.values.tolist() == [[40.0, -160.0, 240.0, -1000.0]]
    assert (grey.center, grey.width, grey.inverted) == (40.0, 400.0, False)
    assert grey.render().tolist() == np.asarray(open_image(path).convert("L")).tolist()  # same as the thumbnails
    lung = grey.render(-600, 1500)  # a lung window shows air as dark grey, not black
    assert 0 < lung[0, 3] < 128 and lung[0, 0] > lung[0, 1]


def test_dicom_grey_without_window_spans_the_range_and_colour_has_none(tmp_path):
    from engine.imaging import read_dicom_grey

    grey = read_dicom_grey(write_dicom(tmp_path / "m1.dcm", np.array([[0, 1000]], dtype=np.uint16),
                                       photometric="MONOCHROME1"))
    assert (grey.center, grey.width, grey.inverted) == (500.0, 1000.0, True)
    assert grey.render().tolist() == [[255, 0]]
    rgb = np.zeros((2, 2, 3), dtype=np.uint8)
    assert read_dicom_grey(write_dicom(tmp_path / "rgb.dcm", rgb, photometric="RGB")) is None
    (tmp_path / "bad.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00")
    with pytest.raises(ImageDecodeError, match="bad.dcm"):
        read_dicom_grey(tmp_path / "bad.dcm")
