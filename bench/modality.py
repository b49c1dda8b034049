"""How honest are the modality labels? Confusion tables on the synthetic figure kinds and on the demo set.

    python -m bench.modality [--synthetic 1100] [--seed 2024]

Labels come from the library's own classifier (engine.modality.classifier_for) with the bundled demo model: a
softmax over the modality prompts the model can read, at the model's learned logit scale, and "unclassified" below
MIN_CONFIDENCE. Each figure kind has one right modality (EXPECTED). For each set it prints the confusion table
(rows: true kind, columns: label given), the share labelled, the precision of the labels given, and calibration: the
expected calibration error (ECE, 10 bins) of the top-class probability at the model's scale, beside the temperature
that would fit this labelled set best — a check on the scale, not what the app uses.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from app.demo import bundled_demo_figures, demo_model_spec
from bench.machine_info import describe
from engine.library.opening import create_model_encoder
from engine.modality import MIN_CONFIDENCE, ModalityClassifier, classifier_for

EXPECTED = {
    "bar_chart": "Chart / plot",
    "line_plot": "Chart / plot",
    "scatter_plot": "Chart / plot",
    "pie_chart": "Chart / plot",
    "he_micrograph": "Histology (H&E)",
    "fluorescence_micrograph": "Fluorescence microscopy",
    "chest_radiograph": "X-ray",
    "bone_radiograph": "X-ray",
    "gel_electrophoresis": "Gel / blot",
    "ecg_trace": "ECG / physiological trace",
    "flow_diagram": "Diagram / schematic",
}
UNCLASSIFIED = "unclassified"


def ece(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: the mean gap between confidence and accuracy, over equal-width bins."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    total = 0.0
    for low, high in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            total += inside.mean() * abs(confidence[inside].mean() - correct[inside].mean())
    return float(total)


def fitted_scale(similarities: np.ndarray, truth: np.ndarray) -> float:
    """The logit scale that minimises the negative log-likelihood of the true classes (a 1-D grid search)."""
    best, best_nll = 1.0, np.inf
    for scale in np.exp(np.linspace(np.log(1.0), np.log(200.0), 400)):
        logits = scale * similarities
        logits -= logits.max(axis=1, keepdims=True)
        log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        nll = -log_probs[np.arange(len(truth)), truth].mean()
        if nll < best_nll:
            best, best_nll = float(scale), nll
    return best


def report(name: str, kinds: list[str], vectors: np.ndarray, classifier: ModalityClassifier) -> None:
    labels = classifier.labels
    given = [label or UNCLASSIFIED for label, _ in classifier.classify(vectors)]
    columns = [*labels, UNCLASSIFIED]
    print(f"\n## {name}: {len(kinds)} figures")
    width = max(len(k) for k in EXPECTED) + 2
    short = [c.split(" ")[0][:9] for c in columns]
    print(" " * width + " ".join(f"{c:>9}" for c in short))
    counts = Counter(zip(kinds, given, strict=True))
    for kind in EXPECTED:
        if any(k == kind for k in kinds):
            row = " ".join(f"{counts[(kind, c)]:>9}" for c in columns)
            print(f"{kind:<{width}}{row}   (right: {EXPECTED[kind]})")
    print("columns: " + " · ".join(f"{s} = {c}" for s, c in zip(short, columns, strict=True)))
    labelled = [(k, g) for k, g in zip(kinds, given, strict=True) if g != UNCLASSIFIED]
    right = sum(EXPECTED[k] == g for k, g in labelled)
    print(f"labelled {len(labelled)} of {len(kinds)} ({len(labelled) / len(kinds):.0%}); labels right "
          f"{right} of {len(labelled)} ({right / max(len(labelled), 1):.0%}); right overall {right / len(kinds):.0%}")
    probabilities = classifier.probabilities(vectors)
    truth = np.array([labels.index(EXPECTED[k]) if EXPECTED[k] in labels else -1 for k in kinds])
    known = truth >= 0
    top = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    correct = (top == truth).astype(float)
    similarities = vectors @ classifier.class_vectors().T
    scale = fitted_scale(similarities[known], truth[known])
    refit = _softmax(scale * similarities)
    refit_correct = (refit.argmax(axis=1) == truth).astype(float)
    print(f"calibration of the top class: ECE {ece(confidence, correct):.3f} at the model's scale "
          f"{classifier.logit_scale:.1f}; the best-fitting scale for this set is {scale:.1f} "
          f"(ECE {ece(refit.max(axis=1), refit_correct):.3f})")
    for threshold in (0.5, 0.8, 0.9):
        kept = confidence >= threshold
        print(f"  labelled at >= {threshold:.0%}: {kept.mean():.0%} of the figures, "
              f"{correct[kept].mean() if kept.any() else 0:.0%} of those labels right")


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def _synthetic(count: int, seed: int) -> tuple[list[str], list]:
    from trainer.synth import make_pair

    pairs = [make_pair(i, seed, 96) for i in range(count)]
    return [p.kind for p in pairs], [p.image for p in pairs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--synthetic", type=int, default=1100, help="synthetic figures to label (1100)")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the synthetic figures (2024)")
    args = parser.parse_args(argv)
    spec = demo_model_spec()
    if spec is None:
        print("resources/demo-model is missing", file=sys.stderr)
        return 2
    print(describe())
    started = time.perf_counter()
    encoder = create_model_encoder(spec, "cpu", True, None)
    classifier = classifier_for(encoder)
    print(f"model {encoder.model_id}; logit scale {classifier.logit_scale:.2f} "
          f"({'learned' if getattr(encoder, 'logit_scale', None) else 'none stored: CLIP ceiling'}); "
          f"unclassified below {MIN_CONFIDENCE:.0%}")
    print(f"classes the model can read: {', '.join(classifier.labels)}")
    print(f"classes left out (no prompt the model can read): {', '.join(classifier.dropped) or 'none'}")
    figures = bundled_demo_figures()
    demo_kinds = [p.name.rsplit("-", 1)[0] for p in figures]
    report("demo set (resources/demo-figures)", demo_kinds, encoder.encode_images([Path(p) for p in figures]),
           classifier)
    kinds, images = _synthetic(args.synthetic, args.seed)
    report(f"synthetic figure kinds (trainer.synth, seed {args.seed})", kinds, encoder.encode_images(images),
           classifier)
    print(f"\n{time.perf_counter() - started:.0f} s; {describe()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
