"""Training throughput: the real fit loop against a bare Keras train step, and epoch scaling.

    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/train_bench.py [--data PATH]
        [--label L] [--repeats 3] [--out benchmarks/results/training.md]

1. Rows/s of `vae_augment.training.train_model` (Keras `fit` with the seeded data source,
   KL warm-up, early stopping, validation, checkpoint bookkeeping) against a bare loop that
   calls the same network's `train_step` in a `tf.function` over batches already in memory,
   in the same process, alternating, with XLA off (the CPU default) and on.
2. Seconds per epoch at 1x, 4x and 16x rows (the table tiled), in memory and streamed from
   Parquet (4 files).

Epoch times are medians over epochs 2..E (the first epoch compiles); rows/s use training rows
over the training part of an epoch (validation excluded, reported separately).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

DEFAULT_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "churn.parquet")


def tile(table: pa.Table, k: int) -> pa.Table:
    return pa.concat_tables([table] * k)


class EpochTimer:
    def __init__(self):
        import keras

        outer = self

        class CB(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                outer.t0 = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                outer.t_train = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                now = time.perf_counter()
                outer.train.append(outer.t_train - outer.t0)
                outer.total.append(now - outer.t0)

        self.train, self.total = [], []
        self.callback = CB()


def real_fit(encoding, arrays, *, epochs, batch, jit, source=None):
    from vae_augment.training import TrainConfig, train_model

    cfg = TrainConfig(epochs=epochs, batch_size=batch, patience=10_000, kl_warmup_epochs=2,
                      jit_compile=jit, seed=0)
    timer = EpochTimer()
    _, metrics = train_model(encoding, source if source is not None else arrays, cfg, verbose=0,
                             callbacks=[timer.callback])
    return timer, metrics["train_rows"]


def bare_steps(encoding, arrays, *, epochs, batch, jit, n_train):
    """The same network's Keras `train_step`, compiled, over in-memory batches."""
    import keras
    import tensorflow as tf

    from vae_augment.model import ConditionalVAE

    keras.utils.set_random_seed(0)
    model = ConditionalVAE(encoding.layout(), latent_dim=16, hidden=(256, 256), seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit)
    step = tf.function(model.train_step, jit_compile=jit)
    train = {k: v[:n_train] for k, v in arrays.items()}
    batches = [
        {k: tf.constant(v[i:i + batch]) for k, v in train.items()}
        for i in range(0, n_train, batch)
    ]
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        for b in batches:
            logs = step(b)
        float(logs["loss"])  # wait for the last step
        times.append(time.perf_counter() - t0)
    return times


def med(xs):
    return statistics.median(xs[1:]) if len(xs) > 1 else xs[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--label", default="churn")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--scale", type=int, default=16, help="rows multiplier for part 1")
    ap.add_argument("--parts", default="throughput,scaling",
                    help="comma-separated: throughput, scaling")
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)

    import tensorflow as tf

    from vae_augment.streaming import ParquetSource
    from vae_augment.training import encode_all, fit_encoding

    base = pq.read_table(args.data)
    results = {"throughput": {}, "scaling": {}}

    # 1. real fit loop vs bare train step
    table = tile(base, args.scale)
    enc = fit_encoding(table, args.label)
    arrays = encode_all(enc, table)
    for jit in ((False, True) if "throughput" in args.parts else ()):
        real, bare, real_total = [], [], []
        n_train = None
        for _ in range(args.repeats):
            timer, n_train = real_fit(enc, arrays, epochs=args.epochs, batch=args.batch, jit=jit)
            real.append(n_train / med(timer.train))
            real_total.append(n_train / med(timer.total))
            bare.append(n_train / med(bare_steps(enc, arrays, epochs=args.epochs,
                                                 batch=args.batch, jit=jit, n_train=n_train)))
        results["throughput"]["xla" if jit else "no_xla"] = {
            "train_rows": n_train,
            "real_rows_s": statistics.median(real),
            "real_rows_s_with_validation": statistics.median(real_total),
            "bare_rows_s": statistics.median(bare),
            "ratio": statistics.median(real) / statistics.median(bare),
            "runs_real": real, "runs_bare": bare,
        }
        print(json.dumps({"jit": jit, **results["throughput"]["xla" if jit else "no_xla"]}),
              flush=True)

    # 2. time per epoch at 1x, 4x, 16x, in memory and streamed
    tmp = tempfile.mkdtemp(prefix="train_bench_")
    for k in ((1, 4, 16) if "scaling" in args.parts else ()):
        table = tile(base, k)
        arrays = encode_all(enc, table)
        d = os.path.join(tmp, f"x{k}")
        os.makedirs(d)
        per = -(-table.num_rows // 4)
        for i in range(4):
            pq.write_table(table.slice(i * per, per), os.path.join(d, f"part-{i}.parquet"),
                           row_group_size=16384)
        mem, stream = [], []
        for _ in range(args.repeats):  # alternating, medians of per-run medians
            timer, _ = real_fit(enc, arrays, epochs=args.epochs, batch=args.batch, jit=False)
            mem.append(med(timer.total))
            src = ParquetSource(d, enc, validation_split=0.1, seed=0, shuffle_buffer=65536)
            timer, _ = real_fit(enc, None, epochs=args.epochs, batch=args.batch, jit=False,
                                source=src)
            stream.append(med(timer.total))
        row = {"rows": table.num_rows, "memory_s": statistics.median(mem),
               "stream_s": statistics.median(stream), "runs_memory": mem, "runs_stream": stream}
        results["scaling"][f"{k}x"] = row
        print(json.dumps({f"{k}x": row}), flush=True)

    results["meta"] = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="minutes"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, {platform.system()}",
        "load": os.getloadavg(),
        "tensorflow": tf.__version__,
        "command": "TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python benchmarks/train_bench.py "
                   + " ".join(argv if argv is not None else sys.argv[1:]),
        "data": os.path.basename(args.data), "batch": args.batch, "epochs": args.epochs,
        "repeats": args.repeats,
    }
    print(json.dumps(results["meta"]))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
