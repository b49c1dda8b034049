"""DICOM files as library figures and as query images (decoded by engine.imaging)."""

from __future__ import annotations

import numpy as np

from engine.types import QueryTerm, SearchQuery
from tests.engine.library.helpers import drain, new_library, write_images
from tests.engine.test_imaging import write_dicom


def test_dicom_is_ingested_and_usable_as_a_query(tmp_path):
    folder = tmp_path / "images"
    write_images(folder, {"red.png": "red", "blue.png": "blue"})
    bright = np.full((32, 32), 4000, dtype=np.uint16)
    write_dicom(folder / "scan.dcm", bright, WindowCenter=2000, WindowWidth=1000)  # all above the window: white
    with new_library(tmp_path / "lib") as library:
        _, report = drain(library.ingest(library.add_collection(folder).id))
        assert report.added == 3 and report.failed == 0
        query = tmp_path / "query.dcm"
        write_dicom(query, np.full((16, 16), 3000, dtype=np.uint16), WindowCenter=100, WindowWidth=50)
        top = library.search(SearchQuery((QueryTerm(image=query),), limit=1, hybrid=False)).results[0]
        assert top.image_path.name == "scan.dcm" and top.why.similarity > 0.9
