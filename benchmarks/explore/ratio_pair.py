"""Credit: would a ratio-aware encoding of Amount and Price help LR? Before fitting, `Amount`
is replaced by log(Amount / Price) (a null ratio where either is null or not positive, so such
a row's synthetic Amount is null); after sampling, Amount = Price * exp(ratio), rounded.
Scores the protocol's LR / HGB minority F1 and C2ST against the same fit without the
transform, split seeds from the argument.

    cd benchmarks/explore && ../../.venv/bin/python ratio_pair.py 0,1,2 '{"guide_iterations": 50, "candidates": 8, "bank_keep": 1.0, "dequantize": true}' [--snap]

With --snap, each synthetic Amount is moved to the nearest Amount of the real training rows.

One-off exploration behind benchmarks/results/quality.md, session 15.
"""
import json
import sys

import _common
import numpy as np
import pyarrow as pa
import utility as U
from amount_price import pair


def to_ratio(t: pa.Table) -> pa.Table:
    a, p, ok = pair(t)
    r = np.full(len(a), np.nan)
    r[ok] = np.log(a[ok] / p[ok])
    i = t.schema.get_field_index("Amount")
    return t.set_column(i, pa.field("Amount", pa.float64()), pa.array(r, mask=~np.isfinite(r)))


def from_ratio(t: pa.Table, schema: pa.Schema, values=None) -> pa.Table:
    """Amount back from the ratio; with `values` (the real Amounts), snapped to the nearest."""
    r = np.asarray(t.column("Amount").to_pylist(), dtype=float)
    p = np.asarray(t.column("Price").to_pylist(), dtype=float)
    a = np.round(p * np.exp(r))
    if values is not None:
        v = np.unique(values)
        j = np.clip(np.searchsorted(v, a), 1, len(v) - 1)
        a = np.where(np.abs(v[j - 1] - a) <= np.abs(v[j] - a), v[j - 1], v[j])
    i = t.schema.get_field_index("Amount")
    typ = schema.field("Amount").type
    col = pa.array(a, mask=~np.isfinite(a)).cast(typ, safe=False)
    return t.set_column(i, schema.field("Amount"), col)


def score(sp, synth, encoding, seed):
    x, y = _common.augmented(sp, synth)
    out = []
    for kind in ("LR", "HGB"):
        clf = U.classifier(kind).fit(x, y)
        out.append(_common.f1(sp, clf.predict(sp.Xte)))
    # C2ST on the untransformed columns, with the plain fit's encoding for both runs
    out.append(U.c2st_class_matched(encoding, sp.train, synth, sp.label, seed))
    return out


def main():
    kwargs = json.loads(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] != "--snap" else {}
    snap = "--snap" in sys.argv
    res = {"plain": [], "ratio": []}
    for seed in (int(s) for s in sys.argv[1].split(",")):
        sp = _common.split("credit", seed)
        art, synth, _ = U.run_vae(sp.train, sp.label, seed, kwargs)
        res["plain"].append(score(sp, synth, art.encoding, seed))
        values = np.asarray(sp.train.column("Amount").to_pylist(), float) if snap else None
        _, synth_r, _ = U.run_vae(to_ratio(sp.train), sp.label, seed, kwargs)
        synth_r = from_ratio(synth_r, sp.train.schema, values)
        res["ratio"].append(score(sp, synth_r, art.encoding, seed))
        print(seed, "plain", np.round(res["plain"][-1], 3), "ratio", np.round(res["ratio"][-1], 3),
              flush=True)
    for k, v in res.items():
        print(k, "mean LR / HGB / C2ST", np.round(np.mean(v, 0), 3))


if __name__ == "__main__":
    main()
