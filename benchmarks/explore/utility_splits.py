"""How much a one-split utility finding can be trusted: the defaults fitted on a whole public
table (as `vae-augment balance` would), its `auto` rows, then `evaluate(utility_splits=N)`.
Prints each split's minority / macro F1 gap of the synthetic rows against no balancing and
SMOTE (LR and HGB), the findings each single split would give alone, and the findings over
the N splits.

    .venv/bin/python benchmarks/explore/utility_splits.py churn,credit,hpc 5
    .venv/bin/python benchmarks/explore/utility_splits.py churn,credit,hpc 5 300   # a small table:
    # a stratified 300-row sample of each (utility.stratified_rows, seed 0) in place of the whole
"""

from __future__ import annotations

import os
import sys
import time

import _common  # noqa: F401  (import paths)
import utility as U

from vae_augment.findings import findings

# session 29 measured in the model's encoding, the report's only feature space then; the
# report's default since session 30 is "standard" (VAE_AUGMENT_FEATURES=standard)
FEATURES = os.environ.get("VAE_AUGMENT_FEATURES", "encoding")


def main(datasets: list[str], n: int, sample_rows: int | None = None) -> None:
    import vae_augment as va
    from vae_augment.balancing import samples_to_generate

    for name in datasets:
        label = U.DATASETS[name]
        table = U.load(name)
        if sample_rows:
            import numpy as np
            import pyarrow as pa

            y = np.asarray(table.column(label).to_pylist())
            table = table.take(pa.array(U.stratified_rows(y, sample_rows, 0)))
        art = va.fit(table, label=label, seed=0)
        counts = {c: k for c, k in samples_to_generate(dict(art.encoding.class_counts),
                                                       "auto").items() if k > 0}
        synth = va.sample(art, counts, seed=0)
        start = time.perf_counter()
        rep = va.evaluate(table, synth, label=label, sections=["utility"], utility_splits=n,
                          utility_features=FEATURES,
                          seed=0, progress=False)
        secs = time.perf_counter() - start
        u = rep["utility"]
        metric = "macro_f1" if len(u["classes"]) > 2 else "minority_f1"
        print(f"\n{name}: {metric}, {n} splits, utility section {secs:.1f} s "
              f"({secs / n:.1f} s a split)")
        for clf in ("logistic_regression", "gradient_boosting"):
            rows = []
            for k, s in enumerate(u["per_split"]):
                r = s[clf]
                rows.append((r["vae_augment"][metric] - r["none"][metric],
                             r["vae_augment"][metric] - r["smote"][metric]))
                print(f"  {clf:20s} split {u['split_seeds'][k]}: ours {r['vae_augment'][metric]:.3f}"
                      f"  none {r['none'][metric]:.3f}  smote {r['smote'][metric]:.3f}"
                      f"  gap vs none {rows[-1][0]:+.3f}  vs smote {rows[-1][1]:+.3f}")
        def flags(report):
            return sorted((f["level"], f["message"].split(" trained")[0])
                          for f in findings(report) if f["section"] == "utility"
                          and "trained with the synthetic rows" in f["message"])

        boots = u.get("per_split_bootstrap_se") or [None] * len(u["per_split"])
        for title, with_se in (("by the margin alone (before session 44)", False),
                               ("beyond its bootstrap errors (session 44)", True)):
            single = []
            for s, se in zip(u["per_split"], boots):
                one = {"utility": {**{k: v for k, v in u.items() if k not in (
                    "per_split", "sd", "per_split_bootstrap_se")},
                    "splits": 1, "results": s, **({"bootstrap_se": se} if with_se else {})}}
                single.append(flags(one))
            print(f"  one split alone flags, {title}:", "; ".join(
                f"seed {sd}: {', '.join(f'{lv} {c}' for lv, c in fl) or 'nothing'}"
                for sd, fl in zip(u["split_seeds"], single)))
        over = [f"{f['level']}: {f['message']}" for f in rep["findings"]
                if f["section"] == "utility" and "trained with the synthetic rows" in f["message"]]
        print(f"  over {n} splits flags:", "; ".join(over) or "nothing")


if __name__ == "__main__":
    main(sys.argv[1].split(","), int(sys.argv[2]) if len(sys.argv) > 2 else 5,
         int(sys.argv[3]) if len(sys.argv) > 3 else None)
