"""Threshold filter on the ELBO class margin (the experiment before `candidates`): generate
MULT x the `auto` counts, keep rows whose own-class negative ELBO is at most m nats above
the best other class, report LR/HGB F1.

    MULT=12 MARGINS=-2,-4,-6 .venv/bin/python benchmarks/explore/diag4.py churn '{"beta": 1.0}'

One-off exploration behind benchmarks/results/quality.md (not part of the library).
"""
import json
import os
import sys

import numpy as np
import pyarrow as pa
from _common import scores, split

from vae_augment.api import fit, sample

ds = sys.argv[1]
kw = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
sp = split(ds, seed)
art = fit(sp.train, label=sp.label, seed=seed, **kw)
m, enc = art.model, art.encoding
big = sample(art, {c: int(os.environ.get("MULT", "4")) * n for c, n in sp.need.items()}, seed=seed)
arr = enc.encode(big)
per_class = []
for k in range(len(enc.classes)):
    x = dict(arr)
    x["y"] = np.full_like(arr["y"], k)
    per_class.append(np.concatenate([m.neg_elbo({kk: v[i:i + 8192] for kk, v in x.items()}).numpy()
                                     for i in range(0, len(x["y"]), 8192)]))
S = np.stack(per_class, 1)  # negative ELBO per class
own = S[np.arange(len(S)), arr["y"]]
S[np.arange(len(S)), arr["y"]] = np.inf
gap = own - S.min(1)  # < 0: own class more likely
yb = np.asarray(big.column(sp.label).to_pylist())


def run(name, keep):
    idx = np.concatenate([np.flatnonzero((yb == c) & keep)[:n] for c, n in sp.need.items()])
    print(f"{ds} s{seed} {name:10s} kept={keep.mean():.2f} n={len(idx)}",
          scores(sp, big.take(pa.array(idx))), flush=True)


run("nofilter", np.ones(len(gap), bool))
for margin in [float(v) for v in os.environ.get("MARGINS", "4,2,0,-2").split(",")]:
    run(f"m{margin}", gap <= margin)
