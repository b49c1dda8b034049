"""engine.modality: prompt ensembles, softmax confidences, and the prompt set's coverage."""

from __future__ import annotations

import numpy as np
import pytest

from engine.modality import MIN_CONFIDENCE, MODALITY_PROMPTS, ModalityClassifier

DIM = 16


class FakeTextEncoder:
    """Maps each prompt to its class's axis plus a little prompt-specific noise; counts calls."""

    def __init__(self, prompts=MODALITY_PROMPTS):
        self.axis = {text: i for i, texts in enumerate(prompts.values()) for text in texts}
        self.calls = 0

    def __call__(self, texts):
        self.calls += 1
        rng = np.random.default_rng(0)
        out = np.zeros((len(texts), DIM), np.float32)
        for row, text in enumerate(texts):
            out[row, self.axis[text]] = 1.0
            out[row] += 0.005 * rng.standard_normal(DIM)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def test_prompt_set_covers_the_required_modalities():
    required = ["CT", "MRI", "X-ray", "Ultrasound", "PET / nuclear medicine", "Histology (H&E)",
                "Immunohistochemistry", "Fluorescence microscopy", "Electron microscopy", "Photograph",
                "Chart / plot", "Diagram / schematic", "Gel / blot", "ECG / physiological trace", "Molecular structure",
                "Other"]
    assert list(MODALITY_PROMPTS) == required
    assert all(len(p) >= 3 and len(set(p)) == len(p) for p in MODALITY_PROMPTS.values())
    assert len(MODALITY_PROMPTS) <= DIM


def test_classify_picks_the_nearest_class_with_softmax_confidence():
    encoder = FakeTextEncoder()
    clf = ModalityClassifier(encoder)
    labels = list(MODALITY_PROMPTS)
    images = np.zeros((3, DIM), np.float32)
    images[0, labels.index("MRI")] = 1.0
    images[1, labels.index("Chart / plot")] = 0.51
    images[1, labels.index("Diagram / schematic")] = 0.49
    images[2, labels.index("CT")] = 1.0
    images[2, labels.index("MRI")] = 1.0
    out = clf.classify(images)
    assert out[0][0] == "MRI" and out[0][1] > 0.99
    assert out[1][0] == "Chart / plot" and 0.6 < out[1][1] < min(0.999, out[0][1])  # a close call is less sure
    assert out[2][1] == pytest.approx(0.5, abs=0.05)  # a tie is not confident…
    assert out[2][0] is None  # …and below MIN_CONFIDENCE it stays unclassified
    probs = clf.probabilities(images)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    clf.classify(images)
    assert encoder.calls == 1  # prompts embedded once


def test_prompt_ensemble_is_the_mean_of_the_prompts():
    prompts = {"a": ("p1", "p2"), "b": ("p3",)}
    table = {"p1": [1, 0, 0], "p2": [0, 1, 0], "p3": [0, 0, 1]}
    clf = ModalityClassifier(lambda texts: np.array([table[t] for t in texts], np.float32), prompts=prompts)
    np.testing.assert_allclose(clf.class_vectors()[0], [2 ** -0.5, 2 ** -0.5, 0], atol=1e-6)
    label, conf = clf.classify(np.array([[1.0, 1.0, 0.0]]))[0]
    assert label == "a" and conf == pytest.approx(1 / (1 + np.exp(-100.0)), rel=1e-6)
    lower = ModalityClassifier(lambda texts: np.array([table[t] for t in texts], np.float32), prompts=prompts,
                               logit_scale=1.0)
    assert lower.classify(np.array([[1.0, 1.0, 0.0]]))[0][1] == pytest.approx(1 / (1 + np.exp(-1.0)), rel=1e-5)


def test_bad_shapes_and_empty_input():
    clf = ModalityClassifier(FakeTextEncoder())
    assert clf.classify(np.empty((0, DIM), np.float32)) == []
    with pytest.raises(ValueError):
        clf.classify(np.ones((1, DIM + 1), np.float32))
    with pytest.raises(ValueError):
        ModalityClassifier(lambda t: np.ones((1, 3), np.float32)).class_vectors()
    with pytest.raises(ValueError):
        ModalityClassifier(FakeTextEncoder(), prompts={"x": ()})


def test_below_the_confidence_threshold_a_figure_is_unclassified():
    prompts = {"a": ("p1",), "b": ("p2",), "c": ("p3",)}
    table = {"p1": [1, 0, 0], "p2": [0, 1, 0], "p3": [0, 0, 1]}
    clf = ModalityClassifier(lambda texts: np.array([table[t] for t in texts], np.float32), prompts=prompts,
                             logit_scale=5.0)
    confident, unsure = clf.classify(np.array([[1.0, 0.0, 0.0], [1.0, 0.9, 0.8]]))
    assert confident[0] == "a" and confident[1] > MIN_CONFIDENCE
    assert unsure[0] is None and unsure[1] < 0.5  # the best class is less likely than the others together
    assert clf.min_confidence == MIN_CONFIDENCE == 0.8


def test_prompts_the_model_cannot_read_are_left_out_with_their_class():
    prompts = {"CT": ("a CT scan",), "Chart": ("a bar chart", "a pie chart with zzq"), "Gel": ("a gel",)}
    encoded = []

    def encode(texts):
        encoded.extend(texts)
        return np.eye(3, dtype=np.float32)[: len(texts)]

    readable = {"a bar chart", "a gel"}
    clf = ModalityClassifier(encode, prompts=prompts, readable=readable.__contains__)
    assert clf.labels == ("Chart", "Gel") and clf.dropped == ("CT",)
    clf.class_vectors()
    assert encoded == ["a bar chart", "a gel"]
    other = ModalityClassifier(encode, prompts=prompts)
    assert other.labels == ("CT", "Chart", "Gel") and other.fingerprint() != clf.fingerprint()
    assert ModalityClassifier(encode, prompts=prompts, logit_scale=20.0).fingerprint() != other.fingerprint()
    nothing = ModalityClassifier(encode, prompts=prompts, readable=lambda _p: False)
    assert nothing.classify(np.ones((2, 3), np.float32)) == [(None, None), (None, None)]
