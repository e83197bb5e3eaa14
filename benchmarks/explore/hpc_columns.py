"""hpc, split seed 0: per-class marginal fit of the synthetic rows (KS for numbers, total
variation for categories), with the defaults or the fit kwargs given as JSON.

    .venv/bin/python benchmarks/explore/hpc_columns.py '{"bank_keep": 1.0}'

One-off exploration behind benchmarks/results/quality.md (not part of the library).
"""
import json
import sys

import numpy as np
from _common import split
from scipy.stats import ks_2samp

from vae_augment.api import fit, sample

sp = split("hpc", 0)
label = sp.label
art = fit(sp.train, label=label, seed=0, **json.loads(sys.argv[1] if len(sys.argv) > 1 else "{}"))
R, S = sp.train.to_pandas(), sample(art, sp.need, seed=0).to_pandas()
for c in S[label].unique():
    r, s = R[R[label] == c], S[S[label] == c]
    out = []
    for col in R.columns:
        if col == label:
            continue
        if R[col].dtype.kind in "if":
            out.append(f"{col}:KS={ks_2samp(r[col], s[col]).statistic:.2f} "
                       f"uniq r/s={r[col].nunique()}/{s[col].nunique()}")
        else:
            tv = 0.5 * np.abs(r[col].value_counts(normalize=True).sub(
                s[col].value_counts(normalize=True), fill_value=0)).sum()
            out.append(f"{col}:TV={tv:.2f}")
    print(c, len(r), len(s), " | ".join(out))
