"""Training cost of `dequantize`: churn, 40 epochs without early stopping, alternating off/on
in one process, 3 fits each; prints the median seconds per epoch (epochs 2..40) per setting.

    .venv/bin/python benchmarks/explore/dequantize_cost.py [../shared/data/churn.parquet]
"""
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import _common  # noqa: E402,F401  (import paths)
import keras  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from vae_augment.preparation import encode_all, fit_encoding  # noqa: E402
from vae_augment.training import TrainConfig, train_model  # noqa: E402

path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared", "data", "churn.parquet")
table = pq.read_table(path)
enc = fit_encoding(table, label="churn")
arrays = encode_all(enc, table)


class EpochTimes(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self.t = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.t)


per = {False: [], True: []}
for rep in range(3):
    for dq in (False, True):
        cb = EpochTimes()
        train_model(enc, arrays, TrainConfig(epochs=40, patience=1000, seed=rep, dequantize=dq),
                    verbose=0, callbacks=[cb])
        per[dq].append(statistics.median(cb.times[1:]))
        print(f"rep {rep} dequantize={dq}: {per[dq][-1] * 1000:.1f} ms/epoch", flush=True)
for dq, values in per.items():
    print(f"dequantize={dq}: median {statistics.median(values) * 1000:.1f} ms/epoch "
          f"over {len(values)} fits ({', '.join(f'{v * 1000:.1f}' for v in values)})")
print(f"ratio on/off: {statistics.median(per[True]) / statistics.median(per[False]):.3f}")
