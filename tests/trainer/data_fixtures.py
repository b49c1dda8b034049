"""Tiny copies of the paper's data sets in their real formats, with a learnable signal, served like the real homes.

Every image is a noisy square of one of four colours, and its text (caption, question, answer, class) names that
colour or a concept tied to it, so a model that sees colour beats chance and one that does not, does not. Formats
follow datasets.md exactly: ROCO's tab + leading space, dlinks' wget lines and the licences header; PMC-OA jsonl
rows and images.zip's folder name; MedMNIST's six uint8/int arrays; VQA-RAD's public JSON (14 keys, "CLOSED " with
a trailing space, integer answers, test_* phrase types) inside an OSF-style zip; SLAKE's 12-key records with
q_lang en/zh and imgs/xmlab<N>/source.jpg in imgs.zip.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import zipfile
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from tests.local_hub import LocalHub, ServedFile

COLORS = {"red": (200, 40, 40), "green": (40, 180, 60), "blue": (40, 60, 210), "yellow": (215, 205, 40)}
NAMES = list(COLORS)
MODALITIES = ["Axial CT", "Chest radiograph", "Brain MRI", "Ultrasound"]
PMC_OA_FOLDER = "caption_T060_filtered_top4_sep_v0_subfigures"


def color_image(color: str, seed: int, size: int = 32) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = np.array(COLORS[color], dtype=np.float32)
    pixels = base + rng.normal(0, 18, size=(size, size, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in members.items():
            zf.writestr(name, content)
    return buffer.getvalue()


def caption(color: str, i: int) -> str:
    return f"{MODALITIES[i % len(MODALITIES)]} showing a {color} lesion – case {i}."


# ------------------------------------------------------------------------------------------------------ PMC-OA


def pmc_oa_files(n: int = 24, seed: int = 0) -> dict[str, bytes]:
    rows, images = [], {}
    for i in range(n):
        color = NAMES[i % 4]
        name = f"PMC{1000 + i // 3}_Fig{i % 3 + 1}_{i % 2}.jpg"
        rows.append({"image": name, "caption": caption(color, i), "pmcid": f"PMC{1000 + i // 3}", "url_name": "x.jpg"})
        images[f"{PMC_OA_FOLDER}/{name}"] = jpeg(color_image(color, seed * 1000 + i))

    def jsonl(part):
        return "".join(json.dumps(r) + "\n" for r in part).encode()

    cut = int(n * 0.7)
    return {
        "pmc_oa.jsonl": jsonl(rows),
        "train.jsonl": jsonl(rows[:cut]),
        "valid.jsonl": jsonl(rows[cut : cut + (n - cut) // 2]),
        "test.jsonl": jsonl(rows[cut:]),
        "images.zip": zip_bytes(images),
    }


# -------------------------------------------------------------------------------------------------------- ROCO


@dataclass
class RocoFixture:
    text: dict[str, bytes]  # "data/test/radiology/captions.txt" -> bytes
    packages: dict[str, bytes]  # "oa_package/ab/cd/PMCnnn.tar.gz" -> bytes
    ids: list[str] = field(default_factory=list)
    deprecated_only: str = ""  # a package PMC serves only under deprecated/
    absent: str = ""  # a package on neither path


def _package(pmcid: str, members: dict[str, bytes]) -> bytes:
    """A PMC OA package: one `PMCID/` folder with the article XML, a PDF and the figure files."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, content in {"article.nxml": b"<article/>", "article.pdf": b"%PDF", **members}.items():
            info = tarfile.TarInfo(f"{pmcid}/{name}")
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def roco_files(n: int = 12, seed: int = 0, split: str = "test", cls: str = "radiology") -> RocoFixture:
    captions, dlinks, licences = [], [], ["ROCO_ID,PMC_ID,CC"]
    packages: dict[str, dict[str, bytes]] = {}
    ids = []
    for i in range(n):
        roco_id = f"ROCO_{i * 7 + 1:05d}"
        ids.append(roco_id)
        color = NAMES[i % 4]
        pmcid = f"PMC{460000 + i // 2}"  # two figures per article: one package serves two ids
        member = f"cro-{i:04d}-g01.jpg"
        path = f"oa_package/{i // 2:02x}/34/{pmcid}.tar.gz"
        captions.append(f"{roco_id}\t {caption(color, i)}")
        dlinks.append(f"{roco_id}\twget -r ftp://ftp.ncbi.nlm.nih.gov/pub/pmc/{path} -P /path/to/Dir\t{member}")
        licences.append(f"{roco_id},{pmcid}_{member},CC BY")
        packages.setdefault(path, {})[member] = jpeg(color_image(color, seed * 1000 + 500 + i))
    base = f"data/{split}/{cls}/"
    text = {
        base + "captions.txt": ("\n".join(captions) + "\n").encode(),
        base + "dlinks.txt": ("\n".join(dlinks) + "\n").encode(),
        base + "licences.txt": ("\n".join(licences) + "\n").encode(),
    }
    built = {path: _package(path.rsplit("/", 1)[1].split(".")[0], members) for path, members in packages.items()}
    paths = sorted(built)
    return RocoFixture(text, built, ids, deprecated_only=paths[1], absent=paths[-1])


# ---------------------------------------------------------------------------------------------------- MedMNIST

# Two grey levels for the binary grey subsets; seven colours for DermaMNIST's seven classes.
GREY_LEVELS = (60, 190)
DERMA_COLORS = [
    (200, 40, 40),
    (40, 180, 60),
    (40, 60, 210),
    (215, 205, 40),
    (150, 60, 180),
    (40, 190, 190),
    (240, 140, 40),
]


def medmnist_npz(flag: str, counts=(48, 16, 32), size: int = 28, seed: int = 0) -> bytes:
    """A MedMNIST-format npz whose class decides the grey level (1 channel) or the colour (3 channels)."""
    from trainer.datasets.medmnist import check_subset

    entry = check_subset(flag)
    n_classes = len(entry["label"])
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in zip(("train", "val", "test"), counts, strict=True):
        labels = (np.arange(n) % n_classes).astype(np.int64)
        rng.shuffle(labels)
        if entry["n_channels"] == 1:
            levels = np.array(np.linspace(*GREY_LEVELS, n_classes))[labels]
            images = levels[:, None, None] + rng.normal(0, 20, size=(n, size, size))
        else:
            colors = np.array(DERMA_COLORS[:n_classes], dtype=np.float32)[labels]
            images = colors[:, None, None, :] + rng.normal(0, 20, size=(n, size, size, 3))
        arrays[f"{split}_images"] = np.clip(images, 0, 255).astype(np.uint8)
        arrays[f"{split}_labels"] = labels[:, None]
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


# ----------------------------------------------------------------------------------------------------- VQA-RAD


def _vqa_color(i: int) -> str:
    """Image i's colour; every 4th image is a test image, and this rotation gives the test set all four colours."""
    return NAMES[(i + i // 4) % 4]


def _vqa_questions(color: str, i: int) -> list[tuple[str, object, str]]:
    """(question, answer, answer_type) pairs about one image; closed answers vary in case, as in VQA-RAD."""
    other = NAMES[(NAMES.index(color) + 1 + i % 3) % 4]  # never the colour itself
    return [
        ("What color is the lesion?", color, "OPEN"),
        (f"Is the lesion {color}?", "Yes" if i % 2 else "yes", "CLOSED"),
        (f"Is the lesion {other}?", "No", "CLOSED"),
    ]


def vqa_rad_osf_zip(n_images: int = 12, seed: int = 0) -> bytes:
    records, members = [], {}
    qid = 0
    for i in range(n_images):
        color = _vqa_color(i)
        name = f"synpic{54610 + i}.jpg"
        members[f"VQA_RAD Image Folder/{name}"] = jpeg(color_image(color, seed * 1000 + 900 + i))
        for j, (question, answer, kind) in enumerate(_vqa_questions(color, i)):
            qid += 1
            test = i % 4 == 3 and j < 2  # the test set: some questions of every 4th image
            records.append(
                {
                    "qid": qid,
                    "phrase_type": ("test_freeform" if j == 0 else "test_para") if test else "freeform",
                    "qid_linked_id": f"{i}_{j}",
                    "image_case_url": "https://medpix.nlm.nih.gov/case?id=x",
                    "image_name": name,
                    "image_organ": ["HEAD", "CHEST", "ABD"][i % 3],
                    "evaluation": "given",
                    "question": question,
                    "question_rephrase": "NULL",
                    "question_relation": "NULL",
                    "question_frame": "NULL",
                    "question_type": "COLOR" if kind == "OPEN" else "PRES, ATTRIB",
                    # MEVF's real files: "CLOSED " with a trailing space twice, and JSON integers for COUNT answers
                    "answer": 4 if (i == 5 and kind == "OPEN") else answer,
                    "answer_type": "CLOSED " if (kind == "CLOSED" and i in (1, 2)) else kind,
                }
            )
    members["VQA_RAD Dataset Public.json"] = json.dumps(records).encode()
    members["Readme.docx"] = b"not a real docx"
    return zip_bytes({f"VQA-RAD/{name}": content for name, content in members.items()})


# ------------------------------------------------------------------------------------------------------- SLAKE


def slake_files(n_images: int = 12, seed: int = 0) -> dict[str, bytes]:
    splits = {"train.json": [], "validation.json": [], "test.json": []}
    members = {}
    qid = 0
    for i in range(n_images):
        color = _vqa_color(i)
        members[f"imgs/xmlab{i}/source.jpg"] = jpeg(color_image(color, seed * 1000 + 700 + i))
        members[f"imgs/xmlab{i}/mask.png"] = b"png"
        target = "test.json" if i % 4 == 3 else ("validation.json" if i % 6 == 4 else "train.json")
        for lang in ("en", "zh"):
            for question, answer, kind in _vqa_questions(color, i):
                record = {
                    "img_id": i,
                    "img_name": f"xmlab{i}/source.jpg",
                    "question": question if lang == "en" else "病变是什么颜色？",
                    "answer": str(answer),
                    "q_lang": lang,
                    "location": "Lung",
                    "modality": "CT",
                    "answer_type": kind,
                    "base_type": "vqa",
                    "content_type": "Color",
                    "triple": ["vhead", "_", "_"],
                    "qid": qid,
                }
                qid += 1
                # key order varies between records in the real files
                splits[target].append(dict(reversed(list(record.items()))) if qid % 2 else record)
    return {**{k: json.dumps(v).encode() for k, v in splits.items()}, "imgs.zip": zip_bytes(members)}


# -------------------------------------------------------------------------------------------------- serving

OSF_ZIP = "https://files.osf.io/v1/resources/89kps/providers/osfstorage/?zip="
ROCO_RAW = "https://raw.githubusercontent.com/razorx89/roco-dataset/a1f0ad6c578ca8801e5a6eccc90af051aee1c326/"
MEDMNIST_SUBSETS = ("pneumoniamnist", "breastmnist", "dermamnist")


def serve_datasets(hub: LocalHub, monkeypatch) -> dict:
    """Put every data set on the local server where the fetchers look; returns what was served."""
    from trainer.datasets import medmnist, roco

    served: dict = {"pmc-oa": pmc_oa_files(), "roco": roco_files(), "slake": slake_files()}
    for name, content in served["pmc-oa"].items():
        hub.add(f"datasets/axiong/pmc_oa/resolve/main/{name}", ServedFile(content, lfs_redirect=name == "images.zip"))
    fixture = served["roco"]
    pinned = {}
    for relative, content in fixture.text.items():
        hub.add_url(ROCO_RAW + relative, ServedFile(content))
        pinned[relative.removeprefix("data/")] = (len(content), hashlib.sha256(content).hexdigest())
    monkeypatch.setattr(roco, "PINNED", pinned)
    for path, content in fixture.packages.items():
        if path == fixture.absent:
            continue
        prefix = "deprecated/" if path == fixture.deprecated_only else ""
        hub.add_url(f"https://ftp.ncbi.nlm.nih.gov/pub/pmc/{prefix}{path}", ServedFile(content))
    served["medmnist"] = {}
    for i, flag in enumerate(MEDMNIST_SUBSETS):
        content = medmnist_npz(flag, seed=i)
        served["medmnist"][flag] = content
        published = medmnist.info()[flag]["files"]["28"]
        hub.add_url(published["url"], ServedFile(content))
        monkeypatch.setitem(published, "md5", hashlib.md5(content).hexdigest())  # our stand-in's md5
    served["vqa-rad"] = vqa_rad_osf_zip()
    hub.add_url(OSF_ZIP, ServedFile(served["vqa-rad"], unknown_length=True))
    for name, content in served["slake"].items():
        hub.add(f"datasets/BoKelvin/SLAKE/resolve/main/{name}", ServedFile(content))
    return served
