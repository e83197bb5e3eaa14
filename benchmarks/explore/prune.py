"""Bank pruning vs candidates on one split: fit once (candidates=1, no pruning), score each
stored posterior by its mean class margin, keep the best fraction, report LR/HGB F1.

    .venv/bin/python benchmarks/explore/prune.py churn 0

One-off exploration behind benchmarks/results/quality.md (not part of the library).
"""
import sys

import numpy as np
from _common import generate, scores, split

from vae_augment.api import fit

ds = sys.argv[1]
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
sp = split(ds, seed)
art = fit(sp.train, label=sp.label, seed=seed, candidates=1, bank_keep=1.0)
m, enc = art.model, art.encoding
loc0, sc0, filled0 = (m.bank_loc.numpy().copy(), m.bank_scale.numpy().copy(),
                      m.bank_filled.numpy().copy())
bank = {c: m.bank_scores(c, seed=seed) for c in range(m.n_classes) if filled0[c]}


def run(name, keep, k=1):
    lo, sc, fi = loc0.copy(), sc0.copy(), filled0.copy()
    for c, score in bank.items():
        order = np.argsort(score, kind="stable")[: max(1, int(round(keep * len(score))))]
        lo[c, : len(order)], sc[c, : len(order)], fi[c] = loc0[c, order], sc0[c, order], len(order)
    m.bank_loc.assign(lo)
    m.bank_scale.assign(sc)
    m.bank_filled.assign(fi)
    m.candidates = k
    print(f"{ds} s{seed} {name:10s}", scores(sp, generate(m, enc, sp.need, seed)), flush=True)


run("k1", 1.0)
run("k4", 1.0, 4)
for keep in (0.5, 0.25, 0.1):
    run(f"keep{keep}", keep)
run("keep0.5k4", 0.5, 4)
