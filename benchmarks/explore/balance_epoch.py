"""tf.data `balance` per epoch: rows/s over a 100k-row churn stream (2 classes) and seconds
per epoch over digits_longtail (10 classes, 578 real rows), medians of 3 and 5 passes.

Run it from the checkout to measure (it imports `vae_augment` from the current directory),
e.g. alternating a worktree of older code with this one:

    (cd /tmp/old && ../main/.venv/bin/python /work/main/benchmarks/explore/balance_epoch.py)
    .venv/bin/python benchmarks/explore/balance_epoch.py

Session 20's figures (5 alternated runs each; RESULTS.md) used small models trained here.
"""
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.getcwd())
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import tensorflow as tf  # noqa: E402

from vae_augment import api, tfdata  # noqa: E402

WORK = os.environ.get("BALANCE_EPOCH_DIR", "/tmp/balance_epoch")
SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared",
                      "data")
CHURN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "data",
                     "churn.parquet")


def model(name, path, label, **kw):
    d = os.path.join(WORK, name)
    if not os.path.exists(d):
        api.fit(path, label=label, model_dir=d, seed=0, epochs=2, **kw)
    return d


def epoch(ds):
    t, n = time.perf_counter(), 0
    for b in ds:
        n += int(tf.shape(next(iter(b.values())))[0])
    return time.perf_counter() - t, n


def main():
    os.makedirs(WORK, exist_ok=True)
    big = os.path.join(WORK, "churn100k.parquet")
    if not os.path.exists(big):
        pq.write_table(pa.concat_tables([pq.read_table(CHURN)] * 20), big, row_group_size=20000)
    digits = os.path.join(SHARED, "digits_longtail.parquet")
    churn_m = model("churn", CHURN, "churn")
    digits_m = model("digits", digits, "label", hidden=(32,), latent_dim=4, constraints=None,
                     bank_size=64)
    out = {}
    for mix in (1, 16):
        ds = tfdata.balance(tfdata.read_parquet(big, 1024), churn_m, label_key="churn", seed=0,
                            batch_size=1024, mix_rows=mix)
        out[f"churn mix_rows={mix} rows/s"] = statistics.median(
            n / s for s, n in (epoch(ds) for _ in range(3)))
    ds = tfdata.balance(tfdata.read_parquet(digits, 256), digits_m, label_key="label", seed=0,
                        batch_size=256)
    out["digits s/epoch"] = statistics.median(epoch(ds)[0] for _ in range(5))
    print(os.getcwd(), {k: round(v, 3) for k, v in out.items()})


if __name__ == "__main__":
    main()
