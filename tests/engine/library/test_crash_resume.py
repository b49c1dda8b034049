"""kill -9 in the middle of an ingest, then reopen: nothing lost, nothing duplicated, and the run resumes."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import func, select

from engine.catalog import Figure
from engine.library import Library
from tests.engine.library.helpers import drain, new_library, write_images
from tests.fakes import FakeEncoder

REPO = Path(__file__).resolve().parents[3]
COUNT = 120

_INGESTER = """
import sys
sys.path.insert(0, {repo!r})
from engine.library import Library
from tests.fakes import FakeEncoder
library = Library.open({lib!r})
library.attach_encoder(FakeEncoder(delay=0.01))
for progress in library.ingest(1, batch_size=8):
    print(progress.phase, progress.done, flush=True)
"""


def test_kill_9_mid_ingest_then_reopen_and_resume(tmp_path):
    folder = tmp_path / "images"
    write_images(folder, {f"img{n:03d}.png": ("red", "green", "blue", "white")[n % 4] for n in range(COUNT)})
    with new_library(tmp_path / "lib") as library:
        assert library.add_collection(folder).id == 1

    script = textwrap.dedent(_INGESTER.format(repo=str(REPO), lib=str(tmp_path / "lib")))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        for line in child.stdout:
            phase, done = line.split()
            if phase == "encoding" and int(done) >= 40:
                break
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL

    encoder = FakeEncoder()
    with Library.open(tmp_path / "lib") as library:  # the dead process's lock is taken over
        library.attach_encoder(encoder)
        with library._sessions() as session:
            committed = session.scalar(select(func.count()).select_from(Figure))
            distinct_keys = session.scalar(select(func.count(func.distinct(Figure.key))))
        assert 40 <= committed < COUNT and distinct_keys == committed
        index_ids = sorted(library._index.current().ids().tolist())
        with library._sessions() as session:
            assert index_ids == sorted(session.scalars(select(Figure.id)))  # the index caught up to agree
        assert library.index_origin == "caught up"

        _, report = drain(library.ingest(1, batch_size=16))
        assert (report.added, report.reused, report.failed) == (COUNT - committed, committed, 0)
        assert encoder.images_encoded == COUNT - committed  # committed work was not redone
        assert library.info().figures == COUNT and library.info().index_size == COUNT


def test_stale_index_catches_up_with_modified_added_and_removed_figures(tmp_path):
    """A process that dies after commits but before saving the index: the next open catches up, exactly."""
    from tests.fakes import solid_image

    folder = tmp_path / "images"
    write_images(folder, {"a.png": "red", "b.png": "green", "c.png": "blue"})
    with new_library(tmp_path / "lib") as library:
        drain(library.ingest(library.add_collection(folder).id))
    solid_image("yellow", speckle=40).save(folder / "a.png")  # modified: same figure id, new vector
    (folder / "b.png").unlink()  # removed
    write_images(folder, {"d.png": "white"}, speckle_from=50)  # added
    library = Library.open(tmp_path / "lib")
    library.attach_encoder(FakeEncoder())
    library._index.save = lambda: None  # dies before any save of the index: only the catalog has the changes
    drain(library.ingest(1))
    library._engine.dispose()
    library._lock.release()

    with Library.open(tmp_path / "lib") as reopened:
        reopened.attach_encoder(FakeEncoder())
        assert reopened.index_origin == "caught up"
        index_ids = sorted(reopened._index.current().ids().tolist())
        with reopened._sessions() as session:
            assert index_ids == sorted(session.scalars(select(Figure.id)))
        from engine.types import QueryTerm, SearchQuery

        top = reopened.search(SearchQuery((QueryTerm("yellow"),), limit=1, hybrid=False)).results[0]
        assert top.image_path.name == "a.png" and top.why.similarity > 0.9  # the replaced vector, not the old red
        names = {r.image_path.name for r in reopened.search(SearchQuery((QueryTerm("x"),), limit=10)).results}
        assert names == {"a.png", "c.png", "d.png"}
