"""The null and category heads started at the training rows' marginals
(`training.start_at_marginals`, session 52) against Keras' zero biases (even odds).

A rare null or a rare category is what a head at even odds over-generates when training is
short (early stopping ends small tables' fits after 50-120 epochs). Each table: N rows, labels
a / b (3:1), a numeric column ``x`` null in K rows, a 16-value float embedding null in K other
rows, and a category ``c`` whose level ``rare`` is in K rows (the rest p / q / r). For each
seed, the same fit with and without the start (the library's defaults otherwise), 2,000
synthetic rows a class; prints the synthetic shares against the real ones, and their medians.

    PYTHONPATH=. .venv/bin/python benchmarks/explore/head_start.py 120,1000 1,10 0,1,2,3
"""

from __future__ import annotations

import os
import sys
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

import vae_augment.training as training  # noqa: E402
from vae_augment.api import fit, sample  # noqa: E402

START = training.start_at_marginals
# the null embedding rows' Parquet warning: these rows stay in memory
warnings.filterwarnings("ignore", message="tensor column")


def table(n: int, k: int, seed: int, dim: int = 16) -> pa.Table:
    rng = np.random.default_rng(seed)
    label = np.where(rng.random(n) < 0.75, "a", "b")
    x = rng.normal(size=n) + (label == "b")
    x_null = np.zeros(n, bool)
    x_null[rng.choice(n, k, replace=False)] = True
    emb_null = np.zeros(n, bool)
    emb_null[rng.choice(n, k, replace=False)] = True
    emb = (rng.normal(size=(n, dim)) + x[:, None]).astype(np.float32)
    cat = rng.choice(["p", "q", "r"], n).astype(object)
    cat[rng.choice(n, k, replace=False)] = "rare"
    return pa.table({
        "x": pa.array(x, mask=x_null),
        "emb": pa.array([None if m else e.tolist() for m, e in zip(emb_null, emb)],
                        pa.list_(pa.float32(), dim)),
        "c": pa.array(cat.tolist()),
        "label": label,
    })


def shares(t: pa.Table) -> list[float]:
    rare = np.asarray(t.column("c").to_pylist(), dtype=object) == "rare"
    return [t.column("x").null_count / t.num_rows, t.column("emb").null_count / t.num_rows,
            float(rare.mean())]


def main(sizes, ks, seeds) -> None:
    for n in sizes:
        for k in ks:
            if k >= n // 10:
                continue
            got = {"zero": [], "marginal": []}
            for seed in seeds:
                t = table(n, k, seed)
                real = shares(t)
                for name in ("zero", "marginal"):
                    training.start_at_marginals = START if name == "marginal" else (
                        lambda model, rows: None)
                    art = fit(t, label="label", seed=seed, verbose=0)
                    s = shares(sample(art, {"a": 2000, "b": 2000}, seed=seed))
                    got[name].append(s)
                    epochs = len(art.history.get("loss", []))
                    print(f"n={n} k={k} seed={seed} {name:8s} epochs {epochs:3d}: null x "
                          f"{s[0]:.4f} emb {s[1]:.4f}, rare category {s[2]:.4f} (real "
                          f"{real[0]:.4f} / {real[1]:.4f} / {real[2]:.4f})", flush=True)
            for name, rows in got.items():
                med = np.median(np.asarray(rows), axis=0)
                print(f"n={n} k={k} median over {len(seeds)} seeds, {name:8s}: null x "
                      f"{med[0]:.4f} emb {med[1]:.4f}, rare category {med[2]:.4f} "
                      f"(real {k / n:.4f})", flush=True)
    training.start_at_marginals = START


if __name__ == "__main__":
    ints = [[int(v) for v in a.split(",")] for a in sys.argv[1:4]]
    main(*ints)
