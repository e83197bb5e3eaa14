"""Small tables with and without a validation split (session 44): do the synthetic rows sit
nearer their training rows than fresh real rows do? For each `--train-rows` size N, dataset
(churn, credit, hpc) and split seed 0-2, the protocol's training split subsampled to N rows
(`utility.stratified_rows`), the defaults fitted with ``validation_split`` 0.1 and 0, and for
the `auto` rows: the median distance to the closest training row over real-test rows' (as
many per class), the share nearer than 95 % of those real-test rows are, and exact copies.
The fits are `utility.run_vae`'s, so their epochs match `utility.py --train-rows N`.
An optional third argument, a JSON list of `fit` keyword sets, replaces the two settings
(session 45 compared KL weights: '[{}, {"beta": 1.0}]'); `{}` is the library's defaults.

    .venv/bin/python benchmarks/explore/small_table_copies.py 500,1000 out.json
    .venv/bin/python benchmarks/explore/small_table_copies.py 500 out.json '[{}, {"beta": 1.0}]'
"""

from __future__ import annotations

import json
import sys

import _common  # noqa: F401  (import paths)
import numpy as np
import pyarrow as pa
import utility as U
from sklearn.model_selection import train_test_split

from vae_augment.preparation import fit_encoding
from vae_augment.privacy import EXACT_TOLERANCE, distance_to_closest


def main(sizes: list[int], path: str, variants: list[dict] | None = None) -> None:
    variants = variants or [{"validation_split": 0.1}, {"validation_split": 0.0}]
    out = []
    for n in sizes:
        for ds in ("churn", "credit", "hpc"):
            label = U.DATASETS[ds]
            table = U.load(ds)
            y_all = np.asarray(table.column(label).to_pylist())
            for seed in (0, 1, 2):
                tr, te = train_test_split(np.arange(table.num_rows), test_size=0.3,
                                          stratify=y_all, random_state=seed)
                tr = tr[U.stratified_rows(y_all[tr], n, seed)]
                train, test = table.take(pa.array(tr)), table.take(pa.array(te))
                for kwargs in variants:
                    art, synth, _ = U.run_vae(train, label, seed, dict(kwargs))
                    # one feature space for all three (real-test has categories train lacks)
                    enc = fit_encoding(pa.concat_tables([train, test]), label)
                    syn = synth.select(train.column_names)
                    y_syn = np.asarray(syn.column(label).to_pylist())
                    y_te = np.asarray(test.column(label).to_pylist())
                    rng = np.random.default_rng(seed)
                    hold = np.concatenate([
                        rng.choice(np.flatnonzero(y_te == c),
                                   min((y_syn == c).sum(), (y_te == c).sum()), replace=False)
                        for c in np.unique(y_syn)])
                    d_syn = distance_to_closest(enc, train, syn)
                    d_hold = distance_to_closest(enc, train, test.take(pa.array(np.sort(hold))))
                    rec = {"n": n, "ds": ds, "seed": seed, "variant": kwargs,
                           "vs": kwargs.get("validation_split", 0.1),
                           "epochs": art.config["metrics"].get("epochs_run"),
                           "med_ratio": float(np.median(d_syn) / np.median(d_hold)),
                           "closer_p05": float(np.mean(d_syn < np.quantile(d_hold, 0.05))),
                           "copies": float(np.mean(d_syn <= EXACT_TOLERANCE))}
                    out.append(rec)
                    print(json.dumps(rec), flush=True)
    with open(path, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main([int(x) for x in sys.argv[1].split(",")], sys.argv[2],
         json.loads(sys.argv[3]) if len(sys.argv) > 3 else None)
