"""The validation pass of an in-memory fit with many validation batches: 200k rows of 16
normal columns (20k held out: 79 batches of 256), 3 epochs, in one of three modes:
``looped`` (the library: `callbacks.Validation` loops over the dataset in its function),
``keras`` (Keras' own train and validation functions) or ``held`` (every batch held as
tensors: since session 55 a step function called on each; sessions 28-54 unrolled them in
one function, the first version for any number of batches).

    for m in looped keras held; do .venv/bin/python benchmarks/explore/validation_big.py $m; done

Session 29: results/core.md.
"""

from __future__ import annotations

import json
import sys
import time

import _common  # noqa: F401  (import paths)
import numpy as np
import pyarrow as pa


def main(mode: str) -> None:
    import keras

    import vae_augment as va
    from vae_augment import callbacks as cb
    from vae_augment import model as M

    rng = np.random.default_rng(0)
    n = 200_000
    cols = {f"x{j}": rng.normal(size=n) for j in range(16)}
    cols["y"] = rng.choice(["a", "b"], size=n, p=[0.8, 0.2])
    table = pa.table(cols)
    if mode == "held":
        cb.Validation.HOLD_MAX_BATCHES = 10**6
    elif mode == "keras":
        M.ConditionalVAE.one_level_functions = lambda self: False
    epochs = []

    class Timer(keras.callbacks.Callback):  # after the library's callbacks: validation included
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            epochs.append(round(time.perf_counter() - self.t, 2))

    start = time.perf_counter()
    art = va.fit(table, label="y", seed=0, epochs=3, patience=10, callbacks=[Timer()])
    print(json.dumps({"mode": mode, "fit_s": round(time.perf_counter() - start, 1),
                      "epochs_s": epochs, "val": art.config["metrics"]["val_neg_elbo"]}))


if __name__ == "__main__":
    main(sys.argv[1])
