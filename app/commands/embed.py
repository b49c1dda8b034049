"""`pmc-search embed`: image and text vectors of any registry model, written to an .npz file.

For researchers and for checking faithfulness against the reference implementation:

    pmc-search embed --model pmc-clip --weights checkpoint.pt --tokenizer pubmedbert/ \
        --images a.png b.dcm --texts-file captions.txt --out vectors.npz

`image_features` and `text_features` are float32, L2-normalised, in input order (one text per line of the texts
file; blank lines are skipped). With --weights and --tokenizer given nothing is downloaded.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from app.commands._arg_types import MAX_BATCH, bounded_int
from engine.errors import UserInputError
from engine.storage_errors import as_storage_error

logger = logging.getLogger(__name__)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "embed",
        help="write image/text embeddings of a model to an .npz file",
        description="Encode images and/or texts with a model and save float32, L2-normalised vectors (.npz).",
    )
    parser.add_argument("--model", default="pmc-clip", help="registry name, open_clip:ARCH/TAG or local-dir:PATH")
    parser.add_argument("--weights", metavar="FILE_OR_DIR", help="checkpoint.pt, or a folder of extracted files")
    parser.add_argument("--tokenizer", metavar="DIR", help="folder with a BERT vocab.txt (+ tokenizer config)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    parser.add_argument("--images", nargs="+", default=[], metavar="FILE", help="image files (DICOM too)")
    parser.add_argument("--texts-file", metavar="F", help="UTF-8 text file, one text per line")
    parser.add_argument("--batch-size", type=bounded_int(1, MAX_BATCH), default=None,
                        help="images/texts per forward pass")
    parser.add_argument("--offline", action="store_true", help="use only local files, never download")
    parser.add_argument("--out", required=True, metavar="OUT.npz", help="where to write the vectors")
    parser.set_defaults(run=run)


def _read_texts(path: str | None) -> list[str]:
    if path is None:
        return []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UserInputError(f"cannot read texts file {path}: {e}") from e
    return [line.strip() for line in lines if line.strip()]


def _download_progress():
    from tqdm import tqdm

    bars: dict[str, tqdm] = {}

    def report(update) -> None:
        bar = bars.get(update.filename)
        if bar is None:
            bar = bars[update.filename] = tqdm(
                total=update.total_bytes, unit="B", unit_scale=True, desc=update.filename, file=sys.stderr
            )
        bar.update(update.done_bytes - bar.n)

    return report


def run(args) -> int:
    # Heavy imports here, not at the top: building the parser (`--help`) must not load torch.
    import numpy as np
    from tqdm import tqdm

    from engine.models import create_encoder

    images = [Path(p) for p in args.images]
    missing = [str(p) for p in images if not p.is_file()]
    if missing:
        raise UserInputError(f"image file(s) not found: {', '.join(missing)}")
    texts = _read_texts(args.texts_file)
    if not images and not texts:
        raise UserInputError("nothing to embed: give --images and/or --texts-file")
    if args.batch_size is not None and args.batch_size < 1:
        raise UserInputError("--batch-size must be at least 1")

    encoder = create_encoder(
        args.model,
        weights=args.weights,
        tokenizer=args.tokenizer,
        device=args.device,
        offline=args.offline,
        progress=_download_progress(),
        batch_size=args.batch_size,
    )
    print(f"{encoder.model_id}: dim {encoder.dim} on {encoder.device} ({encoder.precision}); {encoder.device_reason}")

    image_features = np.zeros((0, encoder.dim), dtype=np.float32)
    if images:
        chunks = []
        step = encoder.batch_size
        with tqdm(total=len(images), unit="img", desc="images", file=sys.stderr) as bar:
            for start in range(0, len(images), step):
                chunks.append(encoder.encode_images(images[start : start + step]))
                bar.update(len(chunks[-1]))
        image_features = np.concatenate(chunks)
    text_features = encoder.encode_texts(texts) if texts else np.zeros((0, encoder.dim), dtype=np.float32)

    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _save(out, np, image_features, text_features, images, texts, encoder.model_id)
    except IsADirectoryError as e:
        raise UserInputError(f"--out {out} is a folder; give a file name such as vectors.npz") from e
    except OSError as e:
        if e.errno is not None and as_storage_error(e) is not None:
            raise  # a full disk or a read-only folder: said as such by the CLI
        raise UserInputError(f"cannot write {out}: {e.strerror or e}") from e
    print(f"wrote {len(image_features)} image and {len(text_features)} text vectors to {out}")
    return 0


def _save(out: Path, np, image_features, text_features, images, texts, model_id: str) -> None:
    with open(out, "wb") as handle:  # a file handle, so numpy does not append ".npz" to a name without it
        np.savez(
            handle,
            image_features=image_features,
            text_features=text_features,
            image_paths=np.array([str(p) for p in images], dtype=str),
            texts=np.array(texts, dtype=str),
            model_id=np.array(model_id),
        )
