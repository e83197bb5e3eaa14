"""How much of a protocol figure is the draw: one fit per split, the `auto` counts sampled with
several generation seeds through the product's sampler (`api.sample`), each scored by the
protocol's LR and HGB. The protocol itself samples with the split's seed (gen seed = split
seed); here gen seeds 0..G-1 of the same fitted model.

    cd benchmarks/explore && ../../.venv/bin/python draw_noise.py hpc 0,1,2 8 '{"guide_iterations": 50, "candidates": 8, "bank_keep": 1.0}'

One-off exploration behind benchmarks/results/quality.md, session 11.
"""
import json
import sys

import _common
import numpy as np

from vae_augment.api import fit, sample
from vae_augment.balancing import samples_to_generate

d = sys.argv[1]
splits = [int(s) for s in sys.argv[2].split(",")]
gens = int(sys.argv[3])
kwargs = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
table = {}  # (split, gen) -> (LR, HGB)
for sd in splits:
    sp = _common.split(d, sd)
    art = fit(sp.train, label=sp.label, seed=sd, verbose=0, **kwargs)
    counts = {c: n for c, n in samples_to_generate(dict(art.encoding.class_counts), "auto").items()
              if n > 0}
    for g in range(gens):
        synth = sample(art, counts, seed=g)
        lr, hgb = (float(w) for w in _common.scores(sp, synth).split()[1::2])
        table[sd, g] = (lr, hgb)
        print(f"{d} split={sd} gen={g} LR {lr:.3f} HGB {hgb:.3f}", flush=True)
    vals = np.array([table[sd, g] for g in range(gens)])
    print(f"{d} split={sd} over {gens} draws: LR {vals[:, 0].mean():.3f} sd {vals[:, 0].std(ddof=1):.3f}"
          f" (min {vals[:, 0].min():.3f} max {vals[:, 0].max():.3f}); HGB {vals[:, 1].mean():.3f} sd"
          f" {vals[:, 1].std(ddof=1):.3f} (min {vals[:, 1].min():.3f} max {vals[:, 1].max():.3f})",
          flush=True)
# the 3-split protocol mean, one value per gen seed (all splits sampled with gen seed g)
per_gen = np.array([[np.mean([table[sd, g][k] for sd in splits]) for g in range(gens)]
                    for k in (0, 1)])
own = [np.mean([table[sd, sd][k] for sd in splits if sd < gens]) for k in (0, 1)]
print(f"{d} split-mean per gen seed: LR {np.round(per_gen[0], 3).tolist()} HGB "
      f"{np.round(per_gen[1], 3).tolist()}")
print(f"{d} split-mean over gen seeds: LR {per_gen[0].mean():.3f} sd {per_gen[0].std(ddof=1):.3f}; "
      f"HGB {per_gen[1].mean():.3f} sd {per_gen[1].std(ddof=1):.3f}; the protocol's own draws "
      f"(gen = split seed): LR {own[0]:.3f} HGB {own[1]:.3f}")
