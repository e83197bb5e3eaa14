"""Why the evaluation report's utility verdict can differ from `benchmarks/utility.py`'s:
the classifiers' feature space, or the generator having seen the rows it is scored on.

For each of N stratified 70/30 splits of a public table (seeds 0 ... N-1, the split both
`utility.py` and `evaluate` make), four cells:

- generator: ``whole`` (the defaults fitted once on the whole table, as `vae-augment balance
  --report` or `evaluate REAL SYNTHETIC` after a balance of REAL would be: it has seen
  real-test) or ``train`` (fitted on the split's real-train only, as the benchmark does);
- features: ``report`` (`evaluate`'s utility section: the model encoding's quantile-normal
  numerics, null indicators and scaled one-hot categories, StandardScaler + LR, SMOTE
  interpolating there) or ``protocol`` (`utility.py`'s: median-imputed standardized numerics
  and one-hot categories, SMOTE interpolating there, as BASELINES.md).

Prints the minority F1 (macro F1 with more than two classes) of no balancing, SMOTE and the
synthetic rows per split and cell, and the mean gaps (ours - SMOTE for LR, ours - none for
gradient boosting) with their paired sd.

    .venv/bin/python benchmarks/explore/report_features.py churn 5
"""

from __future__ import annotations

import sys

import _common  # noqa: F401  (import paths)
import numpy as np
import pyarrow as pa
import utility as U


def protocol_scores(sp, synth: pa.Table, seed: int) -> dict:
    """{clf: {method: F1}} in the benchmark's feature space; up to `need` synthetic rows a
    class (a random subset when `synth` has more, as the report takes)."""
    from imblearn.over_sampling import SMOTE

    y_s = np.asarray(synth.column(sp.label).to_pylist()).astype(sp.y_tr.dtype)
    rng = np.random.default_rng(seed)
    take = []
    for c, n in sp.need.items():
        rows = np.flatnonzero(y_s == c)
        take.append(rng.choice(rows, min(n, len(rows)), replace=False))
    sub = synth.take(pa.array(np.sort(np.concatenate(take))))
    x_aug, y_aug = _common.augmented(sp, sub)
    sets = {"none": (sp.Xtr, sp.y_tr),
            "smote": SMOTE(random_state=seed).fit_resample(sp.Xtr, sp.y_tr),
            "vae_augment": (x_aug, y_aug)}
    out = {}
    for kind, name in (("LR", "logistic_regression"), ("HGB", "gradient_boosting")):
        out[name] = {m: _common.f1(sp, U.classifier(kind).fit(x, y).predict(sp.Xte))
                     for m, (x, y) in sets.items()}
    return out


def report_scores(table: pa.Table, label: str, synth: pa.Table, seed: int, metric: str) -> dict:
    import vae_augment as va

    rep = va.evaluate(table, synth, label=label, sections=["utility"], seed=seed,
                      progress=False, utility_features="encoding")
    res = rep["utility"]["results"]
    return {clf: {m: res[clf][m][metric] for m in ("none", "smote", "vae_augment")}
            for clf in ("logistic_regression", "gradient_boosting")}


def main(name: str, n: int) -> None:
    import vae_augment as va
    from vae_augment.balancing import samples_to_generate

    label = U.DATASETS[name]
    table = U.load(name)

    def balanced(art, seed):
        counts = {c: k for c, k in samples_to_generate(dict(art.encoding.class_counts),
                                                       "auto").items() if k > 0}
        return va.sample(art, counts, seed=seed)

    whole = balanced(va.fit(table, label=label, seed=0), 0)
    cells: dict = {}
    for s in range(n):
        sp = _common.split(name, s)
        metric = "minority_f1" if sp.binary else "macro_f1"
        train_synth = balanced(va.fit(sp.train, label=label, seed=s), s)
        for gen, synth in (("whole", whole), ("train", train_synth)):
            for feat in ("report", "protocol"):
                r = (report_scores(table, label, synth, s, metric) if feat == "report"
                     else protocol_scores(sp, synth, s))
                cells.setdefault((gen, feat), []).append(r)
                print(f"{name} split {s} {gen:5s} {feat:8s} " + "  ".join(
                    f"{clf[:3]} none {v['none']:.3f} smote {v['smote']:.3f} ours "
                    f"{v['vae_augment']:.3f}" for clf, v in r.items()), flush=True)
    print(f"\n{name}, {n} splits: mean gap (paired sd)")
    for (gen, feat), rs in cells.items():
        lr = np.array([r["logistic_regression"]["vae_augment"] - r["logistic_regression"]["smote"]
                       for r in rs])
        gb = np.array([r["gradient_boosting"]["vae_augment"] - r["gradient_boosting"]["none"]
                       for r in rs])
        lr_ours = np.mean([r["logistic_regression"]["vae_augment"] for r in rs])
        lr_sm = np.mean([r["logistic_regression"]["smote"] for r in rs])
        print(f"  {gen:5s} {feat:8s} LR ours {lr_ours:.3f} smote {lr_sm:.3f} ours-smote "
              f"{lr.mean():+.3f} ({lr.std(ddof=1):.3f})   GB ours-none {gb.mean():+.3f} "
              f"({gb.std(ddof=1):.3f})")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5)
