"""What the held validation batches cost a fit: the library's step function called on each
held batch (``stepped``, session 55) against sessions 28-54's one function with every held
batch's `test_step` unrolled in it (``unrolled``, patched back in here). Tracing costs about
0.18 s a batch, so the unrolled function cost short fits more than it saved.

    for m in unrolled stepped unrolled stepped; do
        .venv/bin/python benchmarks/explore/validation_trace.py $m short; done
    for m in unrolled stepped unrolled stepped; do
        .venv/bin/python benchmarks/explore/validation_trace.py $m default40; done

``short``: a test's fit (2 epochs, batch 64: 8 validation batches of churn), 3 fits after a
warm-up; ``default40``: the defaults for 40 epochs without early stopping (2 batches), one
fit after a warm-up. Prints the fits' seconds and the last val_loss (the same in both modes).
Session 55: results/core.md.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

DATA = str(Path(__file__).resolve().parents[2] / "examples" / "data" / "churn.parquet")
SETTINGS = {
    "short": ({"epochs": 2, "batch_size": 64, "latent_dim": 4, "hidden": (16,),
               "kl_warmup_epochs": 1, "patience": 1, "guide_iterations": 2, "candidates": 1}, 3),
    "default40": ({"epochs": 40, "patience": 1000}, 1),
}


def _unrolled(self, epoch, logs=None):
    """Sessions 28-54's `Validation.on_epoch_end` for held batches."""
    import tensorflow as tf

    if logs is None or self.batches == []:
        return
    if self._run is None:
        model = self.model

        def unrolled(batches):
            out = None
            for batch in batches:
                out = model.test_step(batch)
            return out

        self._run = tf.function(unrolled)
    self.model.reset_metrics()
    out = self._run(self.batches)
    logs.update({"val_" + k: float(v) for k, v in out.items()})


def main(mode: str, setting: str) -> None:
    from vae_augment import callbacks
    from vae_augment.api import fit

    if mode == "unrolled":
        callbacks.Validation.on_epoch_end = _unrolled
    elif mode != "stepped":
        raise SystemExit(f"mode: unrolled or stepped, not {mode!r}")
    kw, fits = SETTINGS[setting]
    fit(DATA, label="churn", seed=9, **{**kw, "epochs": 1})  # warm-up: first-fit costs
    seconds = []
    for seed in range(fits):
        start = time.perf_counter()
        art = fit(DATA, label="churn", seed=seed, **kw)
        seconds.append(round(time.perf_counter() - start, 2))
    print(json.dumps({"mode": mode, "setting": setting, "fit_s": seconds,
                      "val_loss": art.config["metrics"]["val_loss"]}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
