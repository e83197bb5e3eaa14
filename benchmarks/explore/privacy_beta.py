"""How near generated rows sit to their training rows, by setting (session 40).

evaluate's privacy section on bundled churn (REAL split 70/30 with seed 0): the share of
synthetic rows nearer a real-train row than 95 % of real-test rows are (about 5 % for rows as
far as unseen real ones), and the median distances of synthetic and real-test rows. Each
setting fits on all of churn (as `balance` does), then draws the rows `balance` would add
(3,586 churners) guided and plain; with a second argument, SMOTE-NC's rows on the same table.

    .venv/bin/python benchmarks/explore/privacy_beta.py "defaults,beta 1,bank_keep 0.25,unguided" smote

Prints: setting, guided|plain, (share, synthetic median, real-test median).
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import pyarrow as pa
import pyarrow.parquet as pq

from vae_augment import UNGUIDED
from vae_augment.api import fit, sample
from vae_augment.evaluation import evaluate

src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "data",
                   "churn.parquet")
real = pq.read_table(src)


def share(syn):
    p = evaluate(real, syn, label="churn", seed=0, sections=["privacy"], progress=False)["privacy"]
    return (round(p["share_closer_than_holdout_p05"], 3), round(p["dcr_synthetic"]["median"], 3),
            round(p["dcr_holdout"]["median"], 3))


variants = {"defaults": {}, "beta 1": {"beta": 1.0}, "bank_keep 0.25": {"bank_keep": 0.25},
            "no dequantize": {"dequantize": False}, "unguided": UNGUIDED}
for name in sys.argv[1].split(","):
    art = fit(src, label="churn", seed=0, verbose=0, **variants[name])
    counts = {"yes": 3586}
    for guided in (True, False):
        syn = sample(art, counts, seed=0, guided=guided)
        print(name, "guided" if guided else "plain", share(syn), flush=True)
if len(sys.argv) > 2:
    import pandas as pd
    from imblearn.over_sampling import SMOTENC
    df = real.to_pandas()
    y = df.pop("churn")
    cats = [i for i, c in enumerate(df.columns) if not pd.api.types.is_numeric_dtype(df[c])]
    X, Y = SMOTENC(categorical_features=cats, random_state=0).fit_resample(df, y)
    new = X.iloc[len(df):].copy()
    new["churn"] = Y.iloc[len(df):].values
    new = new[real.column_names]
    syn = pa.Table.from_pandas(new, preserve_index=False).cast(real.schema)
    print("SMOTE-NC", share(syn), flush=True)
