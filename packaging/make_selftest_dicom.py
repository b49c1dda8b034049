"""Write resources/selftest/chest-ct.dcm: a small synthetic CT slice the self-test drops in as a DICOM query.

Run from the repository root: `python packaging/make_selftest_dicom.py`. The slice is drawn in Hounsfield units
(air, lung, soft tissue, bone) and stored the way scanners store it — signed 16-bit with a rescale intercept and
a lung window — so the app's DICOM path (modality LUT, VOI window, greyscale to RGB) runs as it would on a real
file. No patient data: every identifying attribute is a fixed placeholder, and the UIDs are derived from a seed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "resources" / "selftest" / "chest-ct.dcm"
SIZE = 128
INTERCEPT = -1024


def _ellipse(shape: tuple[int, int], centre: tuple[float, float], radii: tuple[float, float]) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return ((yy - centre[0]) / radii[0]) ** 2 + ((xx - centre[1]) / radii[1]) ** 2 <= 1.0


def draw_slice() -> np.ndarray:
    """Hounsfield units of an axial chest slice: body, two lungs, a vertebra, the heart and a small nodule."""
    shape = (SIZE, SIZE)
    hu = np.full(shape, -1000.0)
    hu[_ellipse(shape, (64, 64), (44, 58))] = 40.0  # soft tissue
    hu[_ellipse(shape, (60, 38), (30, 20))] = -820.0  # right lung
    hu[_ellipse(shape, (60, 90), (30, 20))] = -820.0  # left lung
    hu[_ellipse(shape, (70, 70), (16, 14))] = 45.0  # heart
    hu[_ellipse(shape, (98, 64), (9, 9))] = 700.0  # vertebral body
    hu[_ellipse(shape, (50, 32), (3, 3))] = 30.0  # a nodule in the right lung
    rng = np.random.default_rng(14)
    return hu + rng.normal(0.0, 12.0, shape)  # scanner noise


def build_dataset() -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=["pmc-figure-search selftest instance"])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid(entropy_srcs=["pmc-figure-search selftest study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=["pmc-figure-search selftest series"])
    ds.Modality = "CT"
    ds.PatientName = "SELFTEST^SYNTHETIC"
    ds.PatientID = "SELFTEST"
    ds.StudyDescription = "Synthetic chest CT for the PMC Figure Search self-test"
    ds.Rows, ds.Columns = SIZE, SIZE
    ds.PixelSpacing = [2.5, 2.5]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
    ds.PixelRepresentation = 1  # signed
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = INTERCEPT, 1, "HU"
    ds.WindowCenter, ds.WindowWidth = -600, 1500  # a lung window
    stored = np.clip(np.round(draw_slice() - INTERCEPT), -32768, 32767).astype("<i2")
    ds.PixelData = stored.tobytes()
    return ds


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    build_dataset().save_as(OUT, enforce_file_format=True)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
