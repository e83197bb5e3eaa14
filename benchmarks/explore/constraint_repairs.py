"""Credit: ways to make synthetic rows keep ``Amount <= Price`` (true of every real row), all
from the same fit per split seed and the same pool of draws (4x the `auto` counts, no
constraint in the model):

* none: the first draws as they are (12-16 % break the relation);
* redraw: drop the breaking draws and take the next ones (what pure redraws give);
* clip: Amount := Price in the breaking rows;
* swap: exchange the two values in the breaking rows;
* reflect: Amount := 2 Price - Amount in the breaking rows;
* half: clip every other breaking row and drop the rest (a fixed half on the edge);
* ties: clip a breaking row of class c with probability (t_c - e_c) / b_c, t_c the share of
  the class's real training rows with Amount == Price, e_c and b_c the shares of its draws
  on the edge and breaking it, and drop the rest (the library's `constraints` rule).

Prints LR / HGB F1 and C2ST (as `benchmarks/utility.py` scores them) and, for the bad class,
the ratio Amount / Price: mean, sd, share on the edge (== 1) and over 0.9.

    cd benchmarks/explore && ../../.venv/bin/python constraint_repairs.py 0,1,2 ['{fit kwargs}']

One-off exploration behind benchmarks/results/quality.md, session 17.
"""
import json
import sys

import numpy as np
import pyarrow as pa
from _common import generate, scores, split

from vae_augment.api import fit
from vae_augment.evaluation import c2st_auc

seeds = [int(s) for s in sys.argv[1].split(",")] if len(sys.argv) > 1 else [0, 1, 2]
kwargs = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}


def col(t, n):
    return t.column(n).to_numpy(zero_copy_only=False).astype(float)


def labels(t, sp):
    return np.asarray(t.column(sp.label).to_pylist())


def ratio_stats(t, sp):
    m = labels(t, sp) == sp.minority
    r = col(t, "Amount")[m] / col(t, "Price")[m]
    return (f"bad Amount/Price mean {np.nanmean(r):.3f} sd {np.nanstd(r):.3f} "
            f"==1 {np.nanmean(r == 1):.3f} >0.9 {np.nanmean(r > 0.9):.3f}")


def with_columns(t, idx, amount, price):
    t = t.take(pa.array(idx))
    for name, values in (("Amount", amount), ("Price", price)):
        at = t.schema.get_field_index(name)
        t = t.set_column(at, name, pa.array(values[idx]).cast(t.schema.field(name).type))
    return t


for seed in seeds:
    sp = split("credit", seed)
    print(f"s{seed} real    {ratio_stats(sp.train, sp)}", flush=True)
    art = fit(sp.train, label=sp.label, seed=seed, verbose=0, **{"constraints": None, **kwargs})
    pool = generate(art.model, art.encoding, {c: 4 * n for c, n in sp.need.items()}, seed)
    a, p, lab = col(pool, "Amount"), col(pool, "Price"), labels(pool, sp)
    viol = a > p
    rng = np.random.default_rng(seed)

    def first(ok, lab=lab, need=sp.need):  # the first `need` rows of each class where `ok`
        return np.concatenate([np.flatnonzero((lab == c) & ok)[:n] for c, n in need.items()])

    clip_p = np.zeros(len(a))
    real_a, real_p, real_lab = col(sp.train, "Amount"), col(sp.train, "Price"), labels(sp.train, sp)
    for c in sp.need:
        m, rm = lab == c, real_lab == c
        t = np.mean(real_a[rm] == real_p[rm])
        e, b = np.mean(a[m] == p[m]), np.mean(viol[m])
        clip_p[m] = min(1.0, max(t - e, 0.0) / max(b, 1e-9))
    to_edge = viol & (rng.random(len(a)) < clip_p)
    half = viol & (np.cumsum(viol) % 2 == 0)
    everything = np.ones(len(a), bool)
    variants = {
        "none": pool.take(pa.array(first(everything))),
        "redraw": pool.take(pa.array(first(~viol))),
        "clip": with_columns(pool, first(everything), np.where(viol, p, a), p),
        "swap": with_columns(pool, first(everything), np.where(viol, p, a), np.where(viol, a, p)),
        "reflect": with_columns(pool, first(everything),
                                np.where(viol, np.maximum(2 * p - a, np.nanmin(a)), a), p),
        "half": with_columns(pool, first(~viol | half), np.where(half, p, a), p),
        "ties": with_columns(pool, first(~viol | to_edge), np.where(to_edge, p, a), p),
    }
    for name, t in variants.items():
        print(f"s{seed} {name:7s} {scores(sp, t)} "
              f"C2ST {c2st_auc(art.encoding, sp.train, t, seed=seed):.3f} {ratio_stats(t, sp)}",
              flush=True)
