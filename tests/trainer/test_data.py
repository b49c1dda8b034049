"""Row files, transforms and the caption dataset: shapes, determinism, bad rows and unreadable images."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from engine.errors import UserInputError
from engine.models.tokenizer import CLS_ID, SEP_ID, build_vocab, load_tokenizer
from engine.models.transforms import OPENAI_MEAN, OPENAI_STD, PreprocessConfig, build_eval_transform
from trainer.data import (
    PMC_OA_IMAGE_FOLDER,
    CaptionDataset,
    CaptionRow,
    PackedRows,
    TrainTransform,
    collate_pairs,
    random_resized_crop_box,
    read_rows,
    resolve_image_root,
)
from trainer.masking import sample_rng

CAPTIONS = [
    "bar chart with red bars",
    "chest radiograph with a bright lesion",
    "fluorescence micrograph of green cells",
    "western blot with four lanes",
    "histology section with dense nuclei",
    "flow diagram of the study",
]


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    """Six small images of different colours and sizes, with a vocabulary over their captions."""
    root = tmp_path_factory.mktemp("pairs")
    (root / "images").mkdir()
    rows = []
    for i, caption in enumerate(CAPTIONS):
        rng = np.random.default_rng(i)
        pixels = rng.integers(0, 256, size=(40 + 8 * i, 56, 3), dtype=np.uint8)
        name = f"PMC{100 + i}_Fig1_1.png"
        Image.fromarray(pixels).save(root / "images" / name)
        rows.append(CaptionRow(name, caption))
    build_vocab(CAPTIONS, root / "tokenizer")
    return root, rows, load_tokenizer(root / "tokenizer")


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_jsonl_rows_keep_good_rows_and_report_bad_ones_with_line_numbers(tmp_path):
    path = write_lines(
        tmp_path / "train.jsonl",
        [
            json.dumps({"image": "a.jpg", "caption": " A caption. ", "pmcid": "PMC1", "url_name": "x.jpg"}),
            "{not json",
            json.dumps({"image": "b.jpg"}),
            "",
            json.dumps({"image": "/etc/passwd", "caption": "absolute"}),
            json.dumps({"image": "../../secret.png", "caption": "escapes the root"}),
            json.dumps(["a list"]),
            json.dumps({"image": "sub/c.jpg", "caption": "kept, in a sub-folder"}),
            json.dumps({"image": "C:\\x.png", "caption": "windows drive"}),
        ],
    )
    result = read_rows(path)
    assert result.rows == [CaptionRow("a.jpg", "A caption."), CaptionRow("sub/c.jpg", "kept, in a sub-folder")]
    assert result.bad == 6
    assert [line for line, _ in result.bad_examples] == [2, 3, 5, 6, 7, 9]
    assert "unsafe" in dict(result.bad_examples)[6]


def test_csv_rows_with_configurable_keys_and_separator(tmp_path):
    lines = ["file;text;other", "x.png;first caption;1", "y.png;;2", "z.png;third;3"]
    path = write_lines(tmp_path / "pairs.csv", lines)
    result = read_rows(path, image_key="file", caption_key="text", csv_separator=";")
    assert result.rows == [CaptionRow("x.png", "first caption"), CaptionRow("z.png", "third")]
    assert result.bad == 1 and result.bad_examples[0][0] == 3


@pytest.mark.parametrize("name, content", [("none.jsonl", None), ("rows.txt", "x"), ("empty.jsonl", "{}\n")])
def test_unusable_row_files_are_user_errors(tmp_path, name, content):
    if content is not None:
        (tmp_path / name).write_text(content)
    with pytest.raises(UserInputError):
        read_rows(tmp_path / name)


def test_pmc_oa_image_folder_is_found_under_the_root(tmp_path):
    assert resolve_image_root(tmp_path) == tmp_path
    (tmp_path / "images" / PMC_OA_IMAGE_FOLDER).mkdir(parents=True)
    assert resolve_image_root(tmp_path) == tmp_path / "images" / PMC_OA_IMAGE_FOLDER


def test_crop_boxes_stay_inside_and_follow_scale_and_ratio():
    rng = np.random.default_rng(0)
    areas = []
    for _ in range(500):
        top, left, h, w = random_resized_crop_box(200, 120, rng, scale=(0.5, 1.0))
        assert top >= 0 and top + h <= 120 and left >= 0 and left + w <= 200
        assert 3 / 4 - 0.05 <= w / h <= 4 / 3 + 0.05
        areas.append(h * w / (200 * 120))
    assert min(areas) >= 0.49 and max(areas) <= 1.0
    assert np.mean(areas) > 0.6  # spread over the range, not stuck on the fallback centre crop


def test_crop_box_falls_back_to_a_centred_box_for_extreme_shapes():
    top, left, h, w = random_resized_crop_box(1000, 10, np.random.default_rng(0), scale=(0.9, 1.0))
    assert (h, w) == (10, 13) and left == (1000 - 13) // 2 and top == 0


def test_train_transform_normalises_like_openai():
    white = Image.new("RGB", (50, 70), (255, 255, 255))
    out = TrainTransform(32)(white, np.random.default_rng(0))
    assert out.shape == (3, 32, 32) and out.dtype == torch.float32
    expected = torch.tensor([(1 - m) / s for m, s in zip(OPENAI_MEAN, OPENAI_STD, strict=True)])
    assert torch.allclose(out.mean(dim=(1, 2)), expected, atol=1e-4)


def test_items_have_the_trainers_shapes_and_dtypes(pairs):
    root, rows, tokenizer = pairs
    dataset = CaptionDataset(rows, root / "images", tokenizer, train=True, image_size=32, context_length=20)
    item = dataset[2]
    assert item["image"].shape == (3, 32, 32) and item["image"].dtype == torch.float32
    assert item["input_ids"].shape == (20,) and item["input_ids"].dtype == torch.long
    assert item["mlm_labels"].shape == (20,) and item["mlm_labels"].dtype == torch.long
    assert int(item["index"]) == 2 and int(item["substituted"]) == 0
    batch = collate_pairs([dataset[i] for i in range(4)])
    assert batch["image"].shape == (4, 3, 32, 32) and batch["input_ids"].shape == (4, 20)
    assert batch["index"].tolist() == [0, 1, 2, 3]


def test_eval_items_use_the_engine_eval_transform_and_no_masking(pairs):
    root, rows, tokenizer = pairs
    dataset = CaptionDataset(rows, root / "images", tokenizer, train=False, image_size=32, mask_ratio=0.9)
    item = dataset[3]
    expected = build_eval_transform(PreprocessConfig(image_size=32))(Image.open(root / "images" / rows[3].image))
    assert torch.allclose(item["image"], expected)
    assert set(item["mlm_labels"].unique().tolist()) == {0, CLS_ID, SEP_ID}


def test_train_items_depend_on_seed_epoch_and_index_only(pairs):
    root, rows, tokenizer = pairs

    def make(seed=0):
        return CaptionDataset(rows, root / "images", tokenizer, train=True, image_size=24, seed=seed, mask_ratio=0.5)

    a, b = make(), make()
    first = [a[i] for i in range(len(rows))]
    for i in reversed(range(len(rows))):  # another copy, read in another order
        assert torch.equal(b[i]["image"], first[i]["image"])
        assert torch.equal(b[i]["input_ids"], first[i]["input_ids"])
    b.set_epoch(1)
    assert sum(not torch.equal(b[i]["image"], first[i]["image"]) for i in range(len(rows))) == len(rows)
    c = make(seed=1)
    assert not torch.equal(c[0]["image"], first[0]["image"])


def test_crop_and_masking_streams_are_independent(pairs):
    root, rows, tokenizer = pairs
    light = CaptionDataset(rows, root / "images", tokenizer, train=True, image_size=24, mask_ratio=0.0)
    heavy = CaptionDataset(rows, root / "images", tokenizer, train=True, image_size=24, mask_ratio=0.9)
    assert torch.equal(light[1]["image"], heavy[1]["image"])
    assert not torch.equal(light[1]["input_ids"], heavy[1]["input_ids"])


def test_loader_workers_give_the_same_batches_as_the_main_process(pairs):
    root, rows, tokenizer = pairs
    dataset = CaptionDataset(rows, root / "images", tokenizer, train=True, image_size=24)
    dataset.set_epoch(4)
    main = list(DataLoader(dataset, batch_size=3, collate_fn=collate_pairs, num_workers=0))
    workers = list(DataLoader(dataset, batch_size=3, collate_fn=collate_pairs, num_workers=2))
    assert len(main) == len(workers) == 2
    for x, y in zip(main, workers, strict=True):
        assert all(torch.equal(x[key], y[key]) for key in x)


def test_unreadable_images_are_replaced_by_the_next_readable_pair(pairs, tmp_path):
    root, rows, tokenizer = pairs
    images = tmp_path / "images"
    shutil.copytree(root / "images", images)
    (images / "truncated.png").write_bytes((images / rows[1].image).read_bytes()[:60])
    broken = list(rows)
    broken[1] = CaptionRow("truncated.png", "unreadable")
    broken[2] = CaptionRow("missing.png", "missing")
    dataset = CaptionDataset(broken, images, tokenizer, train=True, image_size=16)
    item = dataset[1]
    assert int(item["index"]) == 3 and int(item["substituted"]) == 1
    plain = CaptionDataset(rows, root / "images", tokenizer, train=True, image_size=16, mask_ratio=0.0)
    # the substitute's caption goes with the substitute's image
    assert torch.equal(
        CaptionDataset(broken, images, tokenizer, train=True, image_size=16, mask_ratio=0.0)[2]["input_ids"],
        plain[3]["input_ids"],
    )
    batches = list(DataLoader(dataset, batch_size=6, collate_fn=collate_pairs))
    assert batches[0]["index"].tolist() == [0, 3, 3, 3, 4, 5]
    assert int(batches[0]["substituted"].sum()) == 2
    assert dataset.substitutions == 3


def test_a_wrong_image_root_stops_with_a_clear_error(pairs, tmp_path):
    _, rows, tokenizer = pairs
    dataset = CaptionDataset(rows, tmp_path, tokenizer, train=True, image_size=16)
    with pytest.raises(UserInputError, match="image root"):
        dataset[0]


def test_per_sample_rng_is_the_one_documented(pairs):
    """The crop of item i in epoch e is the box drawn from sample_rng(seed, e, i, STREAM_CROP)."""
    root, rows, tokenizer = pairs
    from trainer.masking import STREAM_CROP

    dataset = CaptionDataset(rows, root / "images", tokenizer, train=True, image_size=16, seed=3)
    dataset.set_epoch(2)
    image = Image.open(root / "images" / rows[4].image).convert("RGB")
    assert torch.equal(dataset[4]["image"], TrainTransform(16)(image, sample_rng(3, 2, 4, STREAM_CROP)))


def test_packed_rows_give_back_every_row_unicode_included():
    rows = [CaptionRow("a.png", "Ki-67 ≥ 20 % — μm scale"), CaptionRow("sub/b.jpg", "x"), CaptionRow("c.png", "ü")]
    packed = PackedRows(rows)
    assert len(packed) == 3 and list(packed) == rows
    assert packed[-1] == rows[-1] and packed[1:] == rows[1:]
    with pytest.raises(IndexError):
        packed[3]
    assert len(PackedRows([])) == 0
