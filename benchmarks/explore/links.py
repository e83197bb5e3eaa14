"""Oracle check: category-spike links (a category that goes with a numeric column's spike
value, e.g. churn's ``voice_mail_plan == "no"`` exactly when ``number_vmail_messages == 0``)
repaired in the synthetic rows after generation (the category set from the numeric), then
`utility.py` run with the remaining arguments.

    cd benchmarks/explore && ../../.venv/bin/python links.py --methods vae --datasets churn ...

Session 27: the model's independent heads drew 11-12 % of voice-mail-plan rows with no
messages (real: 0.08 %).
"""
import sys

import _common  # noqa: F401  (import paths)
import numpy as np
import pyarrow as pa
import utility  # noqa: E402

_run_vae = utility.run_vae
TOL = 0.01  # a category value "always" / "never" goes with the spike: within this share


def links(train: pa.Table, label: str):
    df = train.to_pandas()
    num = [c for c in df.columns if c != label and df[c].dtype.kind in "if"]
    cat = [c for c in df.columns if c != label and df[c].dtype.kind not in "if"]
    out = []
    for x in num:
        vals = df[x].dropna()
        if vals.empty:
            continue
        v = vals.mode().iloc[0]
        if (vals == v).mean() < 0.05:
            continue
        for c in cat:
            share = (df[x] == v).groupby(df[c]).mean()
            count = df[c].value_counts()
            on = [k for k in share.index if share[k] >= 1 - TOL]
            off = [k for k in share.index if share[k] <= TOL]
            if on and off and len(on) + len(off) == len(share):
                out.append((x, v, c, max(on, key=count.get), max(off, key=count.get)))
    return out


def run_vae(train, label, seed, vae_kwargs):
    art, synth, seconds = _run_vae(train, label, seed, vae_kwargs)
    found = links(train, label)
    print("links:", found, file=sys.stderr)
    df = synth.to_pandas()
    for x, v, c, k_on, k_off in found:
        hit = df[x] == v
        i = synth.schema.get_field_index(c)
        new = np.where(hit, k_on, k_off)
        synth = synth.set_column(i, synth.schema.field(i),
                                 pa.array(new).cast(synth.schema.field(i).type))
        df = synth.to_pandas()
    return art, synth, seconds


utility.run_vae = run_vae
if __name__ == "__main__":
    sys.exit(utility.main(sys.argv[1:]))
