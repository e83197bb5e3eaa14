"""Swap SMOTE for VAEOverSampler in an existing imbalanced-learn pipeline (telecom churn).

The "existing" pipeline one-hot encodes and scales the churn table, over-samples the churners
with SMOTE and fits a logistic regression. We change one step, ``sampler``, to
``VAEOverSampler`` and nothing else, then also try the VAE where it fits best: first, on the
raw mixed-type DataFrame (it models the string columns as categories itself). Every variant
sees the same stratified train/test split; the score is the F1 of the minority class ("yes").

Run from the repository root::

    .venv/bin/python examples/imblearn_pipeline.py              # product defaults (300 epochs)
    .venv/bin/python examples/imblearn_pipeline.py --epochs 30  # quicker
"""

from __future__ import annotations

import argparse
import os
import pathlib
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pandas as pd  # noqa: E402
from imblearn.over_sampling import SMOTE  # noqa: E402
from imblearn.pipeline import Pipeline  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from vae_augment import VAEOverSampler  # noqa: E402

DATA = pathlib.Path(__file__).resolve().parent / "data" / "churn.parquet"
LABEL, POSITIVE = "churn", "yes"


def preprocessor(X: pd.DataFrame) -> ColumnTransformer:
    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    numeric = [c for c in X.columns if c not in categorical]
    return ColumnTransformer(
        [("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
         ("num", StandardScaler(), numeric)],
        sparse_threshold=0.0,
    )


def existing_pipeline(X: pd.DataFrame, seed: int) -> Pipeline:
    """The pipeline as it was before vae-augment: preprocessing, SMOTE, classifier."""
    return Pipeline([
        ("prep", preprocessor(X)),
        ("sampler", SMOTE(random_state=seed)),
        ("clf", LogisticRegression(max_iter=2000)),
    ])


def main(argv=None, **vae_params) -> dict[str, float]:
    """Prints and returns {variant: minority F1}; `vae_params` go to both VAEOverSamplers."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None,
                        help="VAE epochs (default: the product default, with early stopping)")
    args = parser.parse_args(argv)

    df = pd.read_parquet(args.data)
    X, y = df.drop(columns=LABEL), df[LABEL]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=args.seed
    )
    vae_kwargs = {"random_state": args.seed, **vae_params}
    if args.epochs is not None:
        vae_kwargs["epochs"] = args.epochs

    baseline = existing_pipeline(X, args.seed)
    drop_in = existing_pipeline(X, args.seed).set_params(sampler=VAEOverSampler(**vae_kwargs))
    vae_first = Pipeline([
        ("sampler", VAEOverSampler(**vae_kwargs)),
        ("prep", preprocessor(X)),
        ("clf", LogisticRegression(max_iter=2000)),
    ])
    no_resampling = existing_pipeline(X, args.seed).set_params(sampler="passthrough")

    variants = [
        ("no resampling", no_resampling),
        ("SMOTE (existing pipeline)", baseline),
        ("VAEOverSampler, same step as SMOTE", drop_in),
        ("VAEOverSampler, first, on raw columns", vae_first),
    ]
    print(f"churn: {len(X_train)} train / {len(X_test)} test rows, "
          f"{(y_train == POSITIVE).mean():.1%} churners; minority-class ('{POSITIVE}') F1:")
    scores = {}
    for name, pipe in variants:
        start = time.perf_counter()
        pipe.fit(X_train, y_train)
        score = f1_score(y_test, pipe.predict(X_test), pos_label=POSITIVE)
        scores[name] = score
        print(f"  {name:<40} F1 = {score:.3f}   ({time.perf_counter() - start:.1f} s)")
    return scores


if __name__ == "__main__":
    main()
