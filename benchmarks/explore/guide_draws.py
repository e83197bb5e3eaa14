"""The guided setting on one split with 4 and 8 draws per row from the same fit: LR/HGB F1
and C2ST of the `auto` counts generated in process.

    .venv/bin/python benchmarks/explore/guide_draws.py hpc 0

One-off exploration behind benchmarks/results/quality.md (not part of the library).
"""
import sys
import time

from _common import generate, scores, split

from vae_augment.api import fit
from vae_augment.evaluation import c2st_auc

ds, seed = sys.argv[1], int(sys.argv[2])
sp = split(ds, seed)
start = time.perf_counter()
art = fit(sp.train, label=sp.label, seed=seed, verbose=0, guide_iterations=100, candidates=8,
          bank_keep=1.0)
metrics = art.config["metrics"]
print("fit s", round(time.perf_counter() - start, 1),
      {k: v for k, v in metrics.items() if k.startswith("guide") or k == "epochs_run"},
      flush=True)
m, enc = art.model, art.encoding
for k in (4, 8):
    m.candidates = k
    synth = generate(m, enc, sp.need, seed)
    print(ds, seed, "K", k, scores(sp, synth), f"C2ST {c2st_auc(enc, sp.train, synth, seed=seed):.3f}",
          flush=True)
