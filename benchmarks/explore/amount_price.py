"""Credit: does a synthetic row keep the loan's Amount in step with the Price of the purchase?
Correlation of Amount and Price and the mean and sd of log(Amount / Price), per class, in the
real training rows and in vae-augment's rows (fit kwargs from the JSON argument).

    cd benchmarks/explore && ../../.venv/bin/python amount_price.py 0 '{"bank_keep": 1.0}'

One-off exploration behind benchmarks/results/quality.md, session 15.
"""
import json
import sys

import _common
import numpy as np
import utility as U


def pair(t):
    """(Amount, Price, both present and positive) of table `t`, as float arrays."""
    a = np.asarray(t.column("Amount").to_pylist(), float)
    p = np.asarray(t.column("Price").to_pylist(), float)
    return a, p, np.isfinite(a) & np.isfinite(p) & (a > 0) & (p > 0)


def stats(tag, t, label):
    y = np.asarray(t.column(label).to_pylist())
    a, p, ok = pair(t)
    for c in np.unique(y):
        m = (y == c) & ok
        r = np.log(a[m] / p[m])
        print(f"{tag:6s} {c:5s} n {m.sum():5d} corr {np.corrcoef(a[m], p[m])[0, 1]:.3f} "
              f"log(A/P) mean {r.mean():+.3f} sd {r.std():.3f}  A/P > 0.9: {np.mean(r > np.log(0.9)):.3f}")


def main():
    seed = int(sys.argv[1])
    kwargs = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    sp = _common.split("credit", seed)
    stats("real", sp.train, sp.label)
    _, synth, _ = U.run_vae(sp.train, sp.label, seed, kwargs)
    stats("synth", synth, sp.label)


if __name__ == "__main__":
    main()
