"""How near generated rows sit to their training rows, by setting (session 40).

evaluate's privacy section (REAL split 70/30 with seed 0): the share of synthetic rows nearer
a real-train row than 95 % of real-test rows are (about 5 % for rows as far as unseen real
ones), and the median distances of synthetic and real-test rows. Each setting fits on all of
DATA (as `balance` does), then draws the rows `balance` would add (each class up to the
majority's count), guided and plain; with --smote, SMOTE-NC's rows on the same table (SMOTE
when every feature is numeric).

    .venv/bin/python benchmarks/explore/privacy_beta.py --variants "defaults,beta 1,bank_keep 0.25,unguided" --smote
    .venv/bin/python benchmarks/explore/privacy_beta.py --data ../shared/data/credit.parquet --label Status --variants "defaults,beta 1"

Prints: setting, guided|plain, (share, synthetic median, real-test median).
"""
import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from vae_augment import UNGUIDED
from vae_augment.api import fit, sample
from vae_augment.evaluation import evaluate

BUNDLED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "data",
                       "churn.parquet")
VARIANTS = {"defaults": {}, "beta 1": {"beta": 1.0}, "beta 0.75": {"beta": 0.75},
            "beta 0.85": {"beta": 0.85}, "beta 0.6": {"beta": 0.6},
            "temp 1.5": {"temperature": 1.5}, "temp 2": {"temperature": 2.0}, "bank_keep 0.25": {"bank_keep": 0.25},
            "no dequantize": {"dequantize": False}, "unguided": UNGUIDED}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=BUNDLED)
    ap.add_argument("--label", default="churn")
    ap.add_argument("--variants", default="defaults,beta 1")
    ap.add_argument("--smote", action="store_true")
    ap.add_argument("--seed", type=int, default=0, help="the fit's and the draws' seed")
    args = ap.parse_args()
    real = pq.read_table(args.data)
    counts = pc.value_counts(real.column(args.label)).to_pylist()
    top = max(c["counts"] for c in counts)
    need = {c["values"]: top - c["counts"] for c in counts if c["counts"] < top}

    def share(syn):
        p = evaluate(real, syn, label=args.label, seed=0, sections=["privacy"],
                     progress=False)["privacy"]
        return (round(p["share_closer_than_holdout_p05"], 3),
                round(p["dcr_synthetic"]["median"], 3), round(p["dcr_holdout"]["median"], 3))

    for name in args.variants.split(","):
        art = fit(args.data, label=args.label, seed=args.seed, verbose=0, **VARIANTS[name])
        for guided in (True, False):
            syn = sample(art, need, seed=args.seed, guided=guided)
            print(name, "guided" if guided else "plain", share(syn), flush=True)
    if args.smote:
        import pandas as pd
        from imblearn.over_sampling import SMOTE, SMOTENC

        df = real.to_pandas()
        y = df.pop(args.label)
        cats = [i for i, c in enumerate(df.columns) if not pd.api.types.is_numeric_dtype(df[c])]
        sampler = (SMOTENC(categorical_features=cats, random_state=0) if cats else
                   SMOTE(random_state=0))
        x, yy = sampler.fit_resample(df, y)
        new = x.iloc[len(df):].copy()
        new[args.label] = yy.iloc[len(df):].values
        syn = pa.Table.from_pandas(new[real.column_names], preserve_index=False).cast(real.schema)
        print("SMOTE-NC" if cats else "SMOTE", share(syn), flush=True)


if __name__ == "__main__":
    main()
