"""A 10-row class in a 110-row table (session 45): how far its synthetic rows' null and
category shares come from its real ones, with each `fit` setting given. The table: 100 rows
of class `maj` (x2 null in 5 %, `cat` A/B/C at 0.8/0.1/0.1) and 10 of `min` (x2 null in
half of them, `cat` mostly C), x1 and x2 shifted by class; 90 `min` rows drawn as balancing
does, split seeds 0-2.

    .venv/bin/python benchmarks/explore/tiny_class.py out.json '[{"beta": 0.5}, {}]'
    .venv/bin/python benchmarks/explore/tiny_class.py out.json '[{"beta": 0.5}, {}]' 10,20,40

A third argument, rare-class sizes (the majority keeps 10 times as many rows), also reports
`near`: the share of the rare class's synthetic rows nearer a training row than 95 % of
fresh rows of that class (drawn from the same generator) are, as `evaluate`'s privacy
section measures it (about 0.05 for rows no nearer than unseen ones).
"""

import json
import sys

import numpy as np
import pyarrow as pa

import vae_augment as va


def table(seed: int, n1: int = 10) -> pa.Table:
    r = np.random.default_rng(seed)
    n0 = 10 * n1
    y = ["maj"] * n0 + ["min"] * n1
    x1 = np.r_[r.normal(0, 1, n0), r.normal(2, 1, n1)]
    x2 = np.r_[r.normal(5, 2, n0), r.normal(8, 2, n1)]
    null2 = np.r_[r.random(n0) < 0.05, np.arange(n1) % 2 == 0 if n1 == 10 else r.random(n1) < 0.5]
    cat = np.r_[r.choice(list("ABC"), n0, p=[.8, .1, .1]),
                r.choice(list("ABC"), n1, p=[.1, .1, .8])]
    return pa.table({"x1": x1, "x2": pa.array(np.where(null2, np.nan, x2), mask=null2),
                     "cat": cat, "y": y})


def main(path: str, settings: list[dict], sizes: list[int] | None = None) -> None:
    from vae_augment.preparation import fit_encoding
    from vae_augment.privacy import distance_to_closest

    out = []
    for n1, seed in [(n1, seed) for n1 in sizes or [10] for seed in (0, 1, 2)]:
        t = table(seed, n1)
        real = t.filter(pa.compute.equal(t.column("y"), "min"))
        fresh = table(seed + 1000, 10 * n1 if sizes else n1)  # unseen rows, same law
        fresh = fresh.filter(pa.compute.equal(fresh.column("y"), "min"))
        enc = fit_encoding(pa.concat_tables([t, fresh]), "y")
        for kw in settings:
            art = va.fit(t, label="y", seed=seed, verbose=0, **kw)
            s = va.sample(art, {"min": 9 * n1}, seed=seed, guided=True)
            d_syn = distance_to_closest(enc, t, s.select(t.column_names))
            d_new = distance_to_closest(enc, t, fresh)
            rec = {"rare_rows": n1, "seed": seed, "kw": kw, "beta": art.config["train_config"]["beta"],
                   "epochs": art.config["metrics"]["epochs_run"],
                   "null_x2": float(np.mean([v is None for v in s.column("x2").to_pylist()])),
                   "real_null_x2": real.column("x2").null_count / real.num_rows,
                   "cat_C": float(np.mean([c == "C" for c in s.column("cat").to_pylist()])),
                   "real_cat_C": float(np.mean([c == "C" for c in real.column("cat").to_pylist()])),
                   "near": float(np.mean(d_syn < np.quantile(d_new, 0.05)))}
            print(json.dumps(rec), flush=True)
            out.append(rec)
    with open(path, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], json.loads(sys.argv[2]) if len(sys.argv) > 2 else [{"beta": 0.5}, {}],
         [int(n) for n in sys.argv[3].split(",")] if len(sys.argv) > 3 else None)
