"""Issue #6 exploration: clean training rows by the VAE's own label posterior before fitting.

Variants (per dataset/seed, same split and downstream protocol as benchmarks/utility.py):
  defaults : utility.run_vae unchanged (fit defaults on train, sample auto counts)
  p05      : fit defaults, drop train rows with -log p(y|x) > log 2 (p(y|x) < 0.5), refit, sample
  top5     : fit defaults, drop top 5 % per class by -log p(y|x), refit, sample
  top10    : as top5 with 10 %
  rand5(b) : control, drop a random 5 % per class (same counts as top5), refit, sample
Sample counts always from the FULL training split's class counts (auto). Real rows unchanged.

    cd benchmarks/explore && H3_OUT=out.jsonl ../../.venv/bin/python clean_refit.py hpc,credit,churn 0,1,2 [defaults,p05,top5,top10,rand5,rand5b]

Session 34's figures: ../results/clean_refit_s34.md (measured, not built).
"""
import json
import math
import os
import sys
import time

import _common  # noqa: F401  (import paths: the repository and benchmarks/)
import numpy as np
import pyarrow as pa
import utility as U

import vae_augment
from vae_augment.api import fit, sample
from vae_augment.balancing import samples_to_generate

VARIANT = {"name": "defaults"}
CACHE = {}   # (label, nrows, seed, first-row-hash) -> (art, seconds)
DROPS = []
ORIG_ENC = {}

def _key(train, label, seed):
    return (label, train.num_rows, seed, hash(tuple(train.column(label).to_pylist()[:50])))

def run_vae(train, label, seed, vae_kwargs):
    k = _key(train, label, seed)
    if k not in CACHE:
        t0 = time.perf_counter()
        art = fit(train, label=label, seed=seed, **vae_kwargs)
        CACHE[k] = (art, time.perf_counter() - t0)
    art0, fit_s = CACHE[k]
    ORIG_ENC["enc"] = art0.encoding
    counts = samples_to_generate(dict(art0.encoding.class_counts), "auto")
    counts = {c: n for c, n in counts.items() if n > 0}
    v = VARIANT["name"]
    t0 = time.perf_counter()
    if v == "defaults":
        art = art0
    else:
        sc = np.asarray(vae_augment.anomaly_scores(art0, train, kind="label"), dtype=float)
        y = np.asarray(train.column(label).to_pylist(), dtype=object)
        drop = np.zeros(len(y), bool)
        if v == "p05":
            drop = np.nan_to_num(sc, nan=-np.inf) > math.log(2)
        elif v in ("rand5", "rand5b"):  # control: same per-class counts as top5, at random
            rng = np.random.default_rng((1000 if v == "rand5" else 2000) + seed)
            for c in np.unique(y):
                idx = np.flatnonzero(y == c)
                n = int(math.ceil(0.05 * len(idx)))
                drop[rng.choice(idx, n, replace=False)] = True
        elif v in ("top5", "top10"):
            frac = 0.05 if v == "top5" else 0.10
            for c in np.unique(y):
                idx = np.flatnonzero(y == c)
                n = int(math.ceil(frac * len(idx)))
                s = np.nan_to_num(sc[idx], nan=-np.inf)
                drop[idx[np.argsort(-s, kind="stable")[:n]]] = True
        per = {str(c): int(drop[y == c].sum()) for c in np.unique(y)}
        tot = {str(c): int((y == c).sum()) for c in np.unique(y)}
        DROPS.append({"variant": v, "seed": seed, "label": label, "dropped": per, "n": tot})
        print(f"  [{v}] seed={seed} dropped {per} of {tot}", flush=True)
        kept = train.take(pa.array(np.flatnonzero(~drop)))
        art = fit(kept, label=label, seed=seed, **vae_kwargs)
    synth = sample(art, counts, seed=seed)
    return art, synth, fit_s + time.perf_counter() - t0

_orig_c2st = U.c2st_class_matched
def c2st(encoding, train, synth, label, seed):
    try:
        return _orig_c2st(encoding, train, synth, label, seed)
    except Exception as e:  # refit encoding may lack a category of the full train split
        print(f"  c2st with refit encoding failed ({type(e).__name__}); using full-fit encoding")
        return _orig_c2st(ORIG_ENC["enc"], train, synth, label, seed)

U.run_vae = run_vae
U.c2st_class_matched = c2st

def main():
    datasets = sys.argv[1].split(",")
    seeds = [int(s) for s in sys.argv[2].split(",")]
    variants = sys.argv[3].split(",") if len(sys.argv) > 3 else ["defaults", "p05", "top5"]
    out = os.environ.get("H3_OUT", "clean_refit.jsonl")
    for ds in datasets:
        table = U.load(ds)
        label = U.DATASETS[ds]
        print(f"{ds}: {table.num_rows} rows", flush=True)
        for seed in seeds:
            for v in variants:
                VARIANT["name"] = v
                rows = U.evaluate_split(table, label, seed, ["vae"], {}, U.SDV_PYTHON,
                                        lambda m, v=v: print(f"[{v}]" + m, flush=True))
                with open(out, "a") as f:
                    for r in rows:
                        f.write(json.dumps({"dataset": ds, "variant": v, **r}, default=str) + "\n")
                    for d in DROPS:
                        f.write(json.dumps({"dataset": ds, "drops": d}) + "\n")
                DROPS.clear()
            CACHE.clear()

if __name__ == "__main__":
    main()
