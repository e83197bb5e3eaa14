"""Fixed cost of a `sample` call, defaults vs the guided setting: `api.sample` of 1 and 40,000
churner rows (a new Sampler, so a new trace, each call), and the same calls on one Sampler.
Bundled churn, 5 epochs.

    .venv/bin/python benchmarks/explore/sample_overhead.py

One-off exploration behind benchmarks/results/guided_cost.md (not part of the library).
"""
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))

import pyarrow.parquet as pq  # noqa: E402

from vae_augment import GUIDED  # noqa: E402
from vae_augment.api import fit, sample  # noqa: E402
from vae_augment.sampler import Sampler  # noqa: E402

t = pq.read_table(os.path.join(HERE, "..", "..", "examples", "data", "churn.parquet"))
for kw in ({}, GUIDED):
    art = fit(t, label="churn", seed=0, verbose=0, epochs=5, **kw)
    for n in (1, 1, 40000, 40000):
        a = time.perf_counter()
        sample(art, {"yes": n}, seed=1)
        print("guided" if kw else "defaults", n, f"{time.perf_counter() - a:.2f} s")
    sp = Sampler(art)
    for n in (1, 1, 40000, 40000):
        a = time.perf_counter()
        list(sp.iter_counts({"yes": n}, seed=1))
        print("  same Sampler", n, f"{time.perf_counter() - a:.2f} s")
