"""Where a run's numbers go (rank 0 only): CSV files, TensorBoard, and a PNG of the curves each epoch.

- `steps.csv`: one row every `log_every_steps` optimizer steps (loss terms, lr, logit scale, samples/s).
- `epochs.csv`: one row per epoch (mean training loss, validation loss and retrieval R@K).
- `tensorboard/`: the same scalars; `curves.png`: training loss and validation R@K against epochs.
Appending to existing files is what makes a resumed run's history continuous.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

logger = logging.getLogger(__name__)

STEP_FIELDS = ("step", "epoch", "lr", "loss", "clip", "mlm", "logit_scale", "samples_per_s")


class RunMonitor:
    def __init__(self, run_dir: str | Path, *, enabled: bool = True, tensorboard: bool = True):
        self.run_dir = Path(run_dir)
        self.enabled = enabled
        self._tb = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.run_dir / "tensorboard"))
            except ImportError as e:  # tensorboard is a listed dependency; a broken install should not stop a run
                logger.warning("TensorBoard logging off: %s", e)

    def _append(self, name: str, row: dict) -> None:
        path = self.run_dir / name
        new = not path.exists()
        with path.open("a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)

    def log_step(self, row: dict) -> None:
        if not self.enabled:
            return
        self._append("steps.csv", {k: row.get(k) for k in STEP_FIELDS})
        if self._tb is not None:
            for key in ("lr", "loss", "clip", "mlm", "logit_scale", "samples_per_s"):
                if row.get(key) is not None:
                    self._tb.add_scalar(f"train/{key}", row[key], row["step"])

    def log_epoch(self, row: dict) -> None:
        if not self.enabled:
            return
        self._append("epochs.csv", row)
        if self._tb is not None:
            for key, value in row.items():
                if key not in ("epoch", "step") and isinstance(value, (int, float)):
                    self._tb.add_scalar(f"epoch/{key}", value, row["epoch"])
            self._tb.flush()
        self.plot()

    def read_epochs(self) -> list[dict]:
        path = self.run_dir / "epochs.csv"
        if not path.exists():
            return []
        with path.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))

    def plot(self) -> Path | None:
        rows = self.read_epochs()
        if not rows:
            return None
        import matplotlib

        matplotlib.use("Agg")  # no display on a training node
        import matplotlib.pyplot as plt

        def series(key: str) -> tuple[list[float], list[float]]:
            xs, ys = [], []
            for r in rows:
                if r.get(key) not in (None, ""):
                    xs.append(float(r["epoch"]))
                    ys.append(float(r[key]))
            return xs, ys

        fig, (ax_loss, ax_recall) = plt.subplots(1, 2, figsize=(11, 4))
        for key, label in (
            ("train_loss", "train loss"),
            ("train_clip", "train CLIP"),
            ("train_mlm", "train MLM"),
            ("val_loss", "val loss"),
        ):
            xs, ys = series(key)
            if xs:
                ax_loss.plot(xs, ys, marker="o", label=label)
        ax_loss.set_xlabel("epoch")
        ax_loss.set_ylabel("loss")
        ax_loss.legend()
        recall_keys = [k for k in rows[-1] if k.startswith("val_") and "_R@" in k]
        for key in recall_keys:
            xs, ys = series(key)
            if not xs:
                continue
            if "chance" in key:  # a dotted floor, so "far above chance" is visible at a glance
                ax_recall.plot(xs, ys, linestyle=":", color="grey", label=key[len("val_") :])
            else:
                style = "-" if "image_to_text" in key else "--"
                ax_recall.plot(xs, ys, marker="o", linestyle=style, label=key[len("val_") :])
        ax_recall.set_xlabel("epoch")
        ax_recall.set_ylabel("validation recall")
        ax_recall.set_ylim(0, 1)
        if ax_recall.lines:
            ax_recall.legend()
        fig.tight_layout()
        out = self.run_dir / "curves.png"
        fig.savefig(out, dpi=80)
        plt.close(fig)
        return out

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None
