"""Credit: a row that breaks ``Amount <= Price`` redrawn whole (a new latent draw and decoder
pass, session 17's rule) or only from its own likelihood heads (same latent code, new
numeric and null draws: no decoder pass). Same fit per split seed; prints LR / HGB F1,
C2ST and the bad rows' Amount / Price (as constraint_repairs.py).

    git worktree add /tmp/hr 7083c52 && git -C /tmp/hr apply "$PWD/benchmarks/explore/head_redraw.patch"
    cd /tmp/hr/benchmarks/explore && cp /work/main/benchmarks/explore/head_redraw.py . && \
        ../../../main/.venv/bin/python head_redraw.py 0,1,2 ['{fit kwargs}']

(the patch adds the switch `constraints.HEAD_REDRAW` to the library as of 7083c52; it was
measured, not built). One-off exploration behind benchmarks/results/quality.md, session 18.
"""
import json
import sys

import numpy as np
from _common import generate, scores, split

import vae_augment.constraints as C
from vae_augment.api import fit
from vae_augment.evaluation import c2st_auc

seeds = [int(s) for s in sys.argv[1].split(",")] if len(sys.argv) > 1 else [0, 1, 2]
kwargs = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
draws = 3


def col(t, n):
    return t.column(n).to_numpy(zero_copy_only=False).astype(float)


def ratio_stats(t, sp):
    m = np.asarray(t.column(sp.label).to_pylist()) == sp.minority
    r = col(t, "Amount")[m] / col(t, "Price")[m]
    return (f"bad Amount/Price mean {np.nanmean(r):.3f} sd {np.nanstd(r):.3f} "
            f"==1 {np.nanmean(r == 1):.3f} >0.9 {np.nanmean(r > 0.9):.3f} "
            f"null {np.mean(np.isnan(r)):.3f}")


for seed in seeds:
    sp = split("credit", seed)
    print(f"s{seed} real  {ratio_stats(sp.train, sp)}", flush=True)
    art = fit(sp.train, label=sp.label, seed=seed, verbose=0, **kwargs)
    for d in range(draws):
        for name, flag in (("whole", False), ("heads", True)):
            C.HEAD_REDRAW = flag
            t = generate(art.model, art.encoding, sp.need, seed * 100 + d)
            print(f"s{seed} d{d} {name} {scores(sp, t)} "
                  f"C2ST {c2st_auc(art.encoding, sp.train, t, seed=seed):.3f} {ratio_stats(t, sp)}",
                  flush=True)
