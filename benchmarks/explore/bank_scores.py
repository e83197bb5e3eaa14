"""Distribution of the stored posteriors' class margins per class (split seed 0, no pruning):
the scale bank pruning works on.

    .venv/bin/python benchmarks/explore/bank_scores.py churn hpc credit

One-off exploration behind benchmarks/results/quality.md (not part of the library).
"""
import sys

import numpy as np
from _common import split

from vae_augment.api import fit

for ds in sys.argv[1:]:
    sp = split(ds, 0)
    art = fit(sp.train, label=sp.label, seed=0, bank_keep=1.0)
    enc = art.encoding
    for c, name in enumerate(enc.classes):
        sc = art.model.bank_scores(c, seed=0)
        q = np.quantile(sc, [0.1, 0.25, 0.5, 0.75, 0.9])
        print(ds, name, enc.class_counts[name],
              f"frac<0 {(sc < 0).mean():.2f} frac<-2 {(sc < -2).mean():.2f}",
              "q10..90", np.round(q, 1), flush=True)
