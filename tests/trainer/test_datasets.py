"""`data fetch` from a local stand-in for each data set's home, `data verify`, and the readers on real formats."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from engine.errors import OfflineError, UserInputError
from tests.local_hub import serving
from tests.trainer import data_fixtures as fx
from trainer.cli import main
from trainer.datasets import medmnist, roco, vqa
from trainer.datasets.fetch import FetchOptions, fetch_dataset
from trainer.datasets.verify import verify_dataset


@pytest.fixture
def homes(monkeypatch):
    with serving(monkeypatch) as hub:
        yield hub, fx.serve_datasets(hub, monkeypatch)


# ---------------------------------------------------------------------------------------------------- fetch


def test_pmc_oa_fetch_gets_the_jsonl_files_and_unpacks_images(homes, tmp_path, capsys):
    hub, served = homes
    assert main(["data", "fetch", "pmc-oa", "--dest", str(tmp_path / "pmc-oa")]) == 0
    dest = tmp_path / "pmc-oa"
    assert (dest / "test.jsonl").read_bytes() == served["pmc-oa"]["test.jsonl"]
    assert len(list((dest / "images" / fx.PMC_OA_FOLDER).glob("*.jpg"))) == 24
    assert not (dest / "images.zip").exists()  # deleted once extracted …
    n = len(hub.log)
    assert main(["data", "fetch", "pmc-oa", "--dest", str(dest)]) == 0
    assert not hub.gets("images.zip")[1:] and len(hub.log) == n  # … and not fetched again
    assert main(["data", "verify", "pmc-oa", str(dest)]) == 0
    assert "test.jsonl rows: 8" in capsys.readouterr().out


def test_roco_fetch_gets_text_files_and_images_from_pmc_packages(homes, tmp_path):
    hub, served = homes
    fixture = served["roco"]
    report = fetch_dataset("roco", tmp_path / "roco")
    folder = roco.folder_of(tmp_path / "roco", "test", "radiology")
    pairs = roco.read_pairs(folder)
    assert [p.roco_id for p in pairs] == fixture.ids
    absent_ids = {line.split("\t")[0] for line in (folder / "missing_images.tsv").read_text().splitlines()[1:]}
    assert len(absent_ids) == 2  # the package on neither of PMC's paths serves two figures
    assert all((p.image is None) == (p.roco_id in absent_ids) for p in pairs)
    assert any("deprecated/" in r.path for r in hub.gets(".tar.gz"))  # the moved package came from deprecated/
    assert not list((folder / ".packages").glob("*.tar.gz"))  # packages deleted after use
    assert any("2 images could not be fetched" in note for note in report.notes)
    result = verify_dataset("roco", tmp_path / "roco")
    assert not result.ok and result.missing_total["roco test/radiology images"] == 2
    assert result.counts["roco test/radiology pairs"] == 12


def test_roco_text_file_with_the_wrong_hash_is_refused(homes, tmp_path, monkeypatch):
    monkeypatch.setitem(roco.PINNED, "test/radiology/captions.txt", (None, "0" * 64))
    from engine.errors import ChecksumError

    with pytest.raises(ChecksumError):
        fetch_dataset("roco", tmp_path / "roco", FetchOptions(images=False))


def test_medmnist_fetch_checks_md5_and_verify_reads_the_arrays(homes, tmp_path):
    report = fetch_dataset("medmnist", tmp_path / "mm")
    assert sorted(p.name for p in report.files) == ["breastmnist.npz", "dermamnist.npz", "pneumoniamnist.npz"]
    result = verify_dataset("medmnist", tmp_path / "mm")
    assert result.ok and result.counts["breastmnist.npz test"] == 32
    assert any("INFO says 156" in n for n in result.notes)  # a tiny stand-in, not the published 156


def test_vqa_rad_fetch_unpacks_osf_and_writes_the_mevf_split(homes, tmp_path):
    fetch_dataset("vqa-rad", tmp_path / "vqa")
    train = json.loads((tmp_path / "vqa" / "trainset.json").read_text())
    test = json.loads((tmp_path / "vqa" / "testset.json").read_text())
    assert len(train) + len(test) == 36 and len(test) == 6
    assert set(train[0]) == set(vqa.MEVF_FIELDS)
    assert {r["phrase_type"] for r in test} == {"freeform", "para"}  # test_ prefixes dropped, as MEVF does
    assert [r["qid"] for r in train] == sorted(r["qid"] for r in train)
    assert verify_dataset("vqa-rad", tmp_path / "vqa").ok


def test_slake_fetch_and_english_only(homes, tmp_path):
    fetch_dataset("slake", tmp_path / "slake")
    items = vqa.read_slake(tmp_path / "slake", "test")
    assert len(items) == 9 and all(i.image.is_file() for i in items)  # 3 test images × 3 English questions
    assert len(vqa.read_slake(tmp_path / "slake", "test", lang="zh")) == 9
    assert verify_dataset("slake", tmp_path / "slake").ok


def test_offline_fetch_names_the_missing_file(tmp_path):
    with pytest.raises(OfflineError, match="breastmnist.npz"):
        fetch_dataset("medmnist", tmp_path, FetchOptions(offline=True, subsets=("breastmnist",)))


def test_unknown_names_are_user_errors(tmp_path):
    with pytest.raises(UserInputError, match="medmnist"):
        fetch_dataset("imagenet", tmp_path)
    with pytest.raises(UserInputError, match="pathmnist"):
        medmnist.remote_file("notamnist")
    with pytest.raises(UserInputError, match="sizes"):
        medmnist.remote_file("breastmnist", 32)
    assert main(["data", "verify", "roco", str(tmp_path / "nothing")]) == 1


# --------------------------------------------------------------------------------------------------- readers


def test_roco_captions_split_on_the_first_tab_and_lose_one_leading_space(tmp_path):
    (tmp_path / "captions.txt").write_text(
        "ROCO_00001\t Axial MRI (coronal view).\nROCO_00006\t  Coronal CT\twith a tab – and a dash.\n",
        encoding="utf-8",
    )
    captions = roco.read_captions(tmp_path / "captions.txt")
    assert captions == {"ROCO_00001": "Axial MRI (coronal view).", "ROCO_00006": "Coronal CT\twith a tab – and a dash."}


def test_roco_dlinks_and_licences(tmp_path):
    (tmp_path / "dlinks.txt").write_text(
        "ROCO_00001\twget -r ftp://ftp.ncbi.nlm.nih.gov/pub/pmc/oa_package/8d/34/PMC4608653.tar.gz -P /path/to/Dir"
        "\tcro-0008-0385-g01.jpg\n"
    )
    link = roco.read_dlinks(tmp_path / "dlinks.txt")["ROCO_00001"]
    assert link.pmcid == "PMC4608653" and link.member == "cro-0008-0385-g01.jpg"
    assert link.addresses()[1] == "https://ftp.ncbi.nlm.nih.gov/pub/pmc/deprecated/oa_package/8d/34/PMC4608653.tar.gz"
    (tmp_path / "licences.txt").write_text("ROCO_ID,PMC_ID,CC\nROCO_00001,PMC4608653_cro-0008-0385-g01.jpg,CC BY-NC\n")
    assert roco.read_licences(tmp_path / "licences.txt") == {
        "ROCO_00001": ("PMC4608653_cro-0008-0385-g01.jpg", "CC BY-NC")
    }
    (tmp_path / "dlinks.txt").write_text("ROCO_00001\twget -r ftp://elsewhere/x.tar.gz\t../evil.jpg\n")
    with pytest.raises(UserInputError, match="dlinks.txt:1"):
        roco.read_dlinks(tmp_path / "dlinks.txt")


def test_roco_old_style_image_names_are_found(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "captions.txt").write_text("ROCO_00001\t A.\n")
    (tmp_path / "licences.txt").write_text("ROCO_ID,PMC_ID,CC\nROCO_00001,PMC1_a.jpg,CC BY\n")
    (tmp_path / "images" / "PMC1_a.jpg").write_bytes(b"x")
    assert roco.read_pairs(tmp_path)[0].image == tmp_path / "images" / "PMC1_a.jpg"


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _mm_arrays(n=4, shape=(28, 28), dtype=np.uint8, label_cols=1):
    out = {}
    for split in ("train", "val", "test"):
        out[f"{split}_images"] = np.zeros((n, *shape), dtype=dtype)
        out[f"{split}_labels"] = np.zeros((n, label_cols), dtype=np.uint8)
    return out


def test_medmnist_reader_accepts_the_real_keys_shapes_and_dtypes(tmp_path):
    data = medmnist.load(_npz(tmp_path / "breastmnist.npz", **_mm_arrays()))
    assert data.task == "binary-class" and data.label_names == ("malignant", "normal, benign")
    assert data.splits["test"].labels.dtype == np.int64 and data.size == 28
    derma = medmnist.load(_npz(tmp_path / "dermamnist_64.npz", **_mm_arrays(shape=(64, 64, 3))))
    assert derma.n_classes == 7 and derma.size == 64 and derma.n_channels == 3
    chest = medmnist.load(_npz(tmp_path / "chestmnist.npz", **_mm_arrays(label_cols=14)))
    assert chest.task.startswith("multi-label")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.pop("val_labels"), "missing"),
        (lambda a: a.update(extra=np.zeros(1)), "extra"),
        (lambda a: a.update(train_images=np.zeros((4, 28, 28), np.float32)), "uint8"),
        (lambda a: a.update(test_images=np.zeros((4, 28, 28, 3), np.uint8)), "shape"),
        (lambda a: a.update(test_labels=np.zeros(4, np.uint8)), "labels"),
        (lambda a: a.update(test_labels=np.full((4, 1), 2, np.uint8)), "outside"),
        (lambda a: a.update(val_labels=np.zeros((3, 1), np.uint8)), "3 labels"),
    ],
)
def test_medmnist_reader_refuses_what_is_not_medmnist(tmp_path, change, message):
    arrays = _mm_arrays()
    change(arrays)
    with pytest.raises(UserInputError, match=message):
        medmnist.load(_npz(tmp_path / "breastmnist.npz", **arrays))


def test_medmnist_reader_never_unpickles(tmp_path):
    np.savez(tmp_path / "breastmnist.npz", **{**_mm_arrays(), "train_labels": np.array([object()], dtype=object)})
    with pytest.raises(UserInputError):
        medmnist.load(tmp_path / "breastmnist.npz")


def test_vqa_rad_answer_type_and_integer_answers(tmp_path):
    with zipfile.ZipFile(__import__("io").BytesIO(fx.vqa_rad_osf_zip())) as zf:
        zf.extractall(tmp_path)
    folder = tmp_path / "VQA-RAD"
    train = vqa.read_vqa_rad(folder, "train")  # no trainset.json yet: derived in memory from the public JSON
    assert {i.answer_type for i in train} == {"OPEN", "CLOSED"}  # "CLOSED " stripped
    assert any(i.answer == "4" for i in train)  # a JSON integer becomes the string "4"
    assert all(i.image.is_file() for i in train)
    assert vqa.write_mevf_split(folder) == {"train": 30, "test": 6}
    assert [i.qid for i in vqa.read_vqa_rad(folder, "test")] == sorted(i.qid for i in vqa.read_vqa_rad(folder, "test"))


def test_vqa_bad_answer_type_and_unsafe_image_names_are_refused(tmp_path):
    (tmp_path / "imgs" / "xmlab1").mkdir(parents=True)
    record = {
        "img_id": 1,
        "img_name": "xmlab1/source.jpg",
        "question": "q",
        "answer": "a",
        "q_lang": "en",
        "answer_type": "MAYBE",
        "qid": 0,
    }
    (tmp_path / "test.json").write_text(json.dumps([record]))
    with pytest.raises(UserInputError, match="MAYBE"):
        vqa.read_slake(tmp_path, "test")
    (tmp_path / "test.json").write_text(json.dumps([{**record, "answer_type": "OPEN", "img_name": "../../etc/x"}]))
    with pytest.raises(UserInputError, match="unsafe"):
        vqa.read_slake(tmp_path, "test")
    (tmp_path / "validate.json").write_text(json.dumps([{**record, "answer_type": "closed"}]))
    assert vqa.read_slake(tmp_path, "validate")[0].answer_type == "CLOSED"  # the release's own file name


def test_a_hand_placed_archive_is_used_offline_and_extracted(tmp_path):
    dest = tmp_path / "slake"
    dest.mkdir()
    for name, content in fx.slake_files().items():
        (dest / name).write_bytes(content)  # copied from a machine with internet, as the offline message says
    report = fetch_dataset("slake", dest, FetchOptions(offline=True))
    assert len(vqa.read_slake(dest, "train")) > 0 and (dest / "images" / "imgs").is_dir()
    assert any("extracting imgs.zip" in note for note in report.notes)
