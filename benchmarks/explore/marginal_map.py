"""Per-class marginal calibration of numeric columns, as a post-processing of the sampled table:
within each class, each numeric column's synthetic values are mapped by rank onto the real
training rows' values of that class (synthetic rank r of n -> the real class quantile
(r - 0.5) / n; tied values share their average rank). The VAE keeps the joint (rank) structure; the class marginals become the real
ones. One fit per (dataset, seed); the same synthetic rows are scored raw and calibrated, so
the comparison carries no training noise.

    cd benchmarks/explore && ../../.venv/bin/python marginal_map.py hpc,credit 0,1,2 '{"guide_iterations": 50, "candidates": 8, "bank_keep": 1.0}' [average|ordinal]

The last argument is how tied synthetic values are ranked (scipy's `rankdata` method):
`average` (the default) keeps ties tied; `ordinal` breaks them by position (the first run).

One-off exploration behind benchmarks/results/quality.md, session 11.
"""
import json
import sys

import _common
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import utility as U
from scipy.stats import rankdata

RANKS = sys.argv[4] if len(sys.argv) > 4 else "average"


def calibrate(art, train: pa.Table, synth: pa.Table, label: str) -> pa.Table:
    numeric = [s.name for s in art.encoding.specs if s.kind == "numeric"]
    y_real = np.asarray(train.column(label).to_pylist(), dtype=object)
    y_syn = np.asarray(synth.column(label).to_pylist(), dtype=object)
    for name in numeric:
        col = synth.column(name).combine_chunks()
        values = np.asarray(pc.fill_null(col.cast(pa.float64()), np.nan))
        real = np.asarray(pc.fill_null(train.column(name).combine_chunks().cast(pa.float64()),
                                       np.nan))
        out = values.copy()
        for c in np.unique(y_syn):
            rows = np.flatnonzero((y_syn == c) & ~np.isnan(values))
            ref = real[(y_real == c) & ~np.isnan(real)]
            if len(rows) == 0 or len(ref) == 0:
                continue
            # average ranks: tied synthetic values (an int column, a point mass) stay tied, so the
            # map is a monotone function of the value
            u = (rankdata(values[rows], method=RANKS) - 0.5) / len(rows)
            out[rows] = np.quantile(ref, u, method="inverted_cdf")
        mask = np.isnan(out)
        arr = pa.array(np.where(mask, 0.0, out), mask=mask).cast(col.type)
        synth = synth.set_column(synth.schema.get_field_index(name), synth.schema.field(name), arr)
    return synth


def main():
    datasets = sys.argv[1].split(",")
    seeds = [int(s) for s in sys.argv[2].split(",")]
    kwargs = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    res = {}
    for d in datasets:
        for seed in seeds:
            sp = _common.split(d, seed)
            art, synth, secs = U.run_vae(sp.train, sp.label, seed, kwargs)
            for tag, tab in (("raw", synth), ("cal", calibrate(art, sp.train, synth, sp.label))):
                c2 = U.c2st_class_matched(art.encoding, sp.train, tab, sp.label, seed)
                line = f"{d} seed={seed} {tag} {_common.scores(sp, tab)} C2ST {c2:.3f}"
                print(line, flush=True)
                res.setdefault((d, tag), []).append(line)
    print("means:")
    for (d, tag), lines in res.items():
        nums = np.array([[float(w) for w in ln.split()[4::2]] for ln in lines])
        print(d, tag, " ".join(f"{v:.3f}" for v in nums.mean(0)), "(LR HGB C2ST)")


if __name__ == "__main__":
    main()
