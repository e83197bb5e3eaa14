"""Global gradient norms of Adam's steps during a default fit on a whole ../shared dataset
(seed 0), by decile of the run (session 54):

    PYTHONPATH=. .venv/bin/python benchmarks/explore/grad_norms.py churn
"""
import os
import sys

import keras
import numpy as np
import pyarrow.parquet as pq
import tensorflow as tf

NORMS: list[float] = []
_Adam = keras.optimizers.Adam


class Logging(_Adam):
    def _clip_gradients(self, grads):
        n = tf.linalg.global_norm([g for g in grads if g is not None])
        tf.py_function(lambda v: NORMS.append(float(v)), [n], [])
        return super()._clip_gradients(grads)


def main(ds: str) -> None:
    keras.optimizers.Adam = Logging  # before the library builds its optimizer
    import vae_augment as va

    label = {"churn": "churn", "credit": "Status", "hpc": "class", "digits_longtail": "label"}[ds]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared",
                        "data", f"{ds}.parquet")
    va.fit(pq.read_table(path), label=label, seed=0, verbose=0)
    a = np.array(NORMS)
    print(ds, "steps", len(a))
    for q in (50, 90, 99, 99.9, 100):
        print(f"  p{q}: {np.percentile(a, q):.1f}")
    k = len(a) // 10
    for i in range(10):
        seg = a[i * k:(i + 1) * k]
        print(f"  decile {i}: median {np.median(seg):.1f} max {seg.max():.1f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "churn")
