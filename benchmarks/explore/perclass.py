"""Per-class F1 of HGB and LR on one split: none / ROS / SMOTE / the guided setting (which
class do synthetic rows cost?).

    .venv/bin/python benchmarks/explore/perclass.py hpc 0

One-off exploration behind benchmarks/results/quality.md (not part of the library).
"""
import sys

import numpy as np
from _common import U, augmented, generate, split
from imblearn.over_sampling import SMOTE, RandomOverSampler
from sklearn.metrics import confusion_matrix, f1_score

from vae_augment import GUIDED
from vae_augment.api import fit

ds, seed = sys.argv[1], int(sys.argv[2])
sp = split(ds, seed)
classes = np.unique(sp.y_tr)
print("train counts", dict(zip(*np.unique(sp.y_tr, return_counts=True))), "need", sp.need)
sets = {"none": (sp.Xtr, sp.y_tr),
        "ros": RandomOverSampler(random_state=seed).fit_resample(sp.Xtr, sp.y_tr),
        "smote": SMOTE(random_state=seed).fit_resample(sp.Xtr, sp.y_tr)}
art = fit(sp.train, label=sp.label, seed=seed, verbose=0, **GUIDED)
sets["guided"] = augmented(sp, generate(art.model, art.encoding, sp.need, seed))
art.model.candidates = 1
sets["plain"] = augmented(sp, generate(art.model, art.encoding, sp.need, seed))
for kind in U.CLASSIFIERS:
    for name, (x, y) in sets.items():
        pred = U.classifier(kind).fit(x, y).predict(sp.Xte)
        f = f1_score(sp.y_te, pred, labels=classes, average=None)
        print(f"{ds} s{seed} {kind} {name:6s} macro {f.mean():.3f} per class "
              + " ".join(f"{c}:{v:.3f}" for c, v in zip(classes, f)), flush=True)
        if kind == "HGB" and name in ("none", "guided"):
            print(confusion_matrix(sp.y_te, pred, labels=classes))
