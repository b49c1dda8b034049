"""ACC and AUC exactly as MedMNIST's evaluator defines them (`medmnist/evaluator.py`, datasets.md §3).

Both `y_true` and `y_score` are squeezed first. Scores are probabilities (softmax/sigmoid), because ACC thresholds
them at 0.5.
- `binary-class`: a 2-D score uses its LAST column; AUC = ROC-AUC of that column; ACC = accuracy of `score > 0.5`.
- `multi-label, binary-class`: AUC and ACC are the unweighted means over the label columns of the per-label ROC-AUC
  and the per-label accuracy of `score > 0.5`.
- every other task (`multi-class`, `ordinal-regression`): AUC is the unweighted mean over classes of one-vs-rest
  ROC-AUC of column i; ACC = accuracy of argmax.
A ROC-AUC is undefined when a split has one class only; that AUC is NaN (and says so) rather than a made-up 0.5.
"""

from __future__ import annotations

import logging

import numpy as np

from engine.errors import ConfigError

logger = logging.getLogger(__name__)


def sklearn():
    """scikit-learn, an optional dependency of the evaluations (the `eval` extra); a clear error when absent."""
    try:
        import sklearn.linear_model
        import sklearn.metrics
    except ImportError as e:
        raise ConfigError(
            "the MedMNIST evaluations need scikit-learn: pip install 'pmc-figure-search[eval]' (or scikit-learn)"
        ) from e
    return sklearn


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    if len(np.unique(y)) < 2:
        logger.warning("AUC undefined: only one class among %d samples", len(y))
        return float("nan")
    return float(sklearn().metrics.roc_auc_score(y, s))


def medmnist_metrics(task: str, y_true: np.ndarray, y_score: np.ndarray) -> dict[str, float]:
    """{'acc': …, 'auc': …} as fractions."""
    y_true = np.asarray(y_true).squeeze()
    y_score = np.asarray(y_score, dtype=np.float64).squeeze()
    if task == "binary-class":
        score = y_score[:, -1] if y_score.ndim == 2 else y_score
        return {"acc": float(np.mean(y_true == (score > 0.5))), "auc": _auc(y_true, score)}
    if task.startswith("multi-label"):
        y_true = y_true.reshape(len(y_true), -1)
        y_score = y_score.reshape(len(y_score), -1)
        aucs = [_auc(y_true[:, i], y_score[:, i]) for i in range(y_true.shape[1])]
        accs = [np.mean(y_true[:, i] == (y_score[:, i] > 0.5)) for i in range(y_true.shape[1])]
        return {"acc": float(np.mean(accs)), "auc": float(np.mean(aucs))}
    aucs = [_auc((y_true == i).astype(int), y_score[:, i]) for i in range(y_score.shape[1])]
    return {"acc": float(np.mean(y_true == np.argmax(y_score, axis=1))), "auc": float(np.mean(aucs))}
