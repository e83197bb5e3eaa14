"""Oracle check: recompute derived numeric columns (y = a * x + b to y's rounding, in every
training row) in the synthetic rows after generation, then run SCRIPT (`../utility.py`).

    cd benchmarks/explore && ../../.venv/bin/python derived.py --methods vae --datasets churn ...

Session 27's measurement of whether churn's charge = rate x minutes pairs, which the
likelihood heads draw independently given z, cost utility.
"""
import sys

import _common  # noqa: F401  (import paths)
import numpy as np
import pyarrow as pa
import utility  # noqa: E402  (benchmarks/, on the path through _common)

_run_vae = utility.run_vae


def decimals(v: np.ndarray) -> int | None:
    for d in range(7):
        if np.allclose(v, np.round(v, d), atol=1e-9, rtol=0):
            return d
    return None


def derived_pairs(train: pa.Table, label: str):
    cols = [n for n in train.column_names if n != label and pa.types.is_floating(train.schema.field(n).type)
            or (n != label and pa.types.is_integer(train.schema.field(n).type))]
    arrs = {c: train.column(c).to_numpy(zero_copy_only=False).astype(float) for c in cols
            if train.column(c).null_count == 0}
    pairs = []
    for y in arrs:
        d = decimals(arrs[y])
        if d is None:
            continue
        for x in arrs:
            if x == y or np.std(arrs[x]) == 0:
                continue
            a, b = np.polyfit(arrs[x], arrs[y], 1)
            # within one unit of y's last decimal in every row (the rate's own rounding)
            err = np.max(np.abs(np.round(a * arrs[x] + b, d) - arrs[y])) * 10.0 ** d
            if err <= 1.01:
                pairs.append((err, y, x, a, b, d))
    # the direction that fits best first; no column both a source and a target
    out, used = [], set()
    for _err, y, x, a, b, d in sorted(pairs, key=lambda p: p[0]):
        if y not in used and x not in {o[0] for o in out} and y not in {o[1] for o in out}:
            out.append((y, x, a, b, d))
            used.add(y)
    return out


def run_vae(train, label, seed, vae_kwargs):
    art, synth, seconds = _run_vae(train, label, seed, vae_kwargs)
    pairs = derived_pairs(train, label)
    print("derived:", [(y, x, round(a, 5), round(b, 5), d) for y, x, a, b, d in pairs], file=sys.stderr)
    for y, x, a, b, d in pairs:
        i = synth.schema.get_field_index(y)
        v = np.round(a * synth.column(x).to_numpy(zero_copy_only=False).astype(float) + b, d)
        synth = synth.set_column(i, synth.schema.field(i), pa.array(v).cast(synth.schema.field(i).type))
    return art, synth, seconds


utility.run_vae = run_vae
if __name__ == "__main__":
    sys.exit(utility.main(sys.argv[1:]))
