"""Synthetic numerics clipped to the class's real quantiles (session 52; measured, not built).

Logistic regression on standardized numerics weighs tail rows heavily; SMOTE's rows never leave
the hull of a class's neighbours, the VAE's reproduce the tails. This balances with the
defaults, then clips each numeric column of the synthetic rows to [q, 1 - q] quantiles of the
class's real training rows, and scores LR / HGB minority F1 and C2ST per q.

    cd benchmarks/explore && ../../.venv/bin/python winsor.py credit 0,1,2 0,0.005,0.01,0.025,0.05
"""
import sys

import _common
import numpy as np
import pyarrow as pa
import utility as U

MEANS: dict[float, list] = {}


def clip(synth: pa.Table, train: pa.Table, label: str, q: float) -> pa.Table:
    if q == 0:
        return synth
    cols = {}
    ys = np.asarray(synth.column(label).to_pylist())
    yt = np.asarray(train.column(label).to_pylist())
    for name in synth.column_names:
        col = synth.column(name)
        if name == label or not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
            cols[name] = col
            continue
        v = np.array(col.to_pylist(), dtype=float)
        r = np.array(train.column(name).to_pylist(), dtype=float)
        for c in np.unique(ys):
            rc = r[(yt == c) & ~np.isnan(r)]
            lo, hi = np.quantile(rc, [q, 1 - q])
            m = (ys == c) & ~np.isnan(v)
            v[m] = np.clip(v[m], lo, hi)
        if pa.types.is_integer(col.type):
            v = np.round(v)
        cols[name] = pa.array(v, mask=np.isnan(v)).cast(col.type)
    return pa.table(cols, schema=synth.schema)


def run(d: str, seed: int, qs: list[float]):
    from vae_augment.api import fit, sample

    sp = _common.split(d, seed)
    art = fit(sp.train, label=sp.label, seed=seed)
    need = {c: n for c, n in sp.need.items() if n > 0}
    synth0 = sample(art, need, seed=seed, guided=True)
    for q in qs:
        synth = clip(synth0, sp.train, sp.label, q)
        xs, ys = _common.augmented(sp, synth)
        row = {}
        xte = sp.Xte.toarray() if hasattr(sp.Xte, "toarray") else sp.Xte
        for clf_name in ("LR", "HGB"):
            clf = U.classifier(clf_name).fit(xs, ys)
            row[clf_name] = _common.f1(sp, clf.predict(xte))
        row["C2ST"] = U.c2st_class_matched(art.encoding, sp.train, synth, sp.label, seed)
        MEANS.setdefault(q, []).append(row)
        print(f"{d} {seed} q={q:<6} " + " ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)


def main():
    d = sys.argv[1]
    seeds = [int(s) for s in sys.argv[2].split(",")]
    qs = [float(s) for s in sys.argv[3].split(",")]
    for seed in seeds:
        run(d, seed, qs)
    for q, rows in MEANS.items():
        print(f"mean {d} q={q:<6} " + " ".join(
            f"{k} {np.mean([r[k] for r in rows]):.3f}" for k in rows[0]), flush=True)


if __name__ == "__main__":
    main()
