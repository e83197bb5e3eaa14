"""Does emphasising the class boundary help credit's LR? imbalanced-learn's SMOTE variants
(borderline-1/2, ADASYN, SVM-SMOTE, k=10) against plain SMOTE and random oversampling, in
the utility protocol's preprocessed space, LR only, split seeds 0-9 paired with SMOTE.

    ../../.venv/bin/python smote_variants.py credit

One-off exploration behind benchmarks/results/quality.md (not part of the library).
"""
import sys

from _common import U, f1, paired_table, split
from imblearn.over_sampling import ADASYN, SMOTE, SVMSMOTE, BorderlineSMOTE, RandomOverSampler

ds = sys.argv[1] if len(sys.argv) > 1 else "credit"
seeds = range(int(sys.argv[2]) if len(sys.argv) > 2 else 10)
res: dict[str, list[float]] = {}
for seed in seeds:
    sp = split(ds, seed)
    for name, sampler in [
            ("ros", RandomOverSampler(random_state=seed)), ("smote", SMOTE(random_state=seed)),
            ("smote_k10", SMOTE(k_neighbors=10, random_state=seed)),
            ("borderline1", BorderlineSMOTE(random_state=seed)),
            ("borderline2", BorderlineSMOTE(kind="borderline-2", random_state=seed)),
            ("adasyn", ADASYN(random_state=seed)), ("svm_smote", SVMSMOTE(random_state=seed))]:
        X, y = sampler.fit_resample(sp.Xtr, sp.y_tr)
        res.setdefault(name, []).append(f1(sp, U.classifier("LR").fit(X, y).predict(sp.Xte)))
paired_table(f"{ds}, LR: minority F1 (binary) / macro F1", res, "smote")
