"""Discriminator-matched selection on one split: fit once, generate an oversupply of each
class, then choose the rows to keep so that a real-data classifier's p(class | row) is
distributed among the kept synthetic rows as it is among the real rows of the class
(out-of-fold), instead of taking the first rows or the most class-typical ones.

    .venv/bin/python benchmarks/explore/match.py churn 0 [keep] [oversupply]

One-off exploration behind benchmarks/results/quality.md (not part of the library).
"""
import json
import os
import sys

import numpy as np
import pyarrow as pa
from _common import U, augmented, generate, scores, split
from sklearn.model_selection import cross_val_predict

from vae_augment.api import fit
from vae_augment.evaluation import c2st_auc

ds = sys.argv[1]
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
keep = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
over = int(sys.argv[4]) if len(sys.argv) > 4 else 4
sp = split(ds, seed)
art = fit(sp.train, label=sp.label, seed=seed, bank_keep=keep)
m, enc = art.model, art.encoding
big = generate(m, enc, {c: n * over for c, n in sp.need.items()}, seed)
ys = np.asarray(big.column(sp.label).to_pylist())
rng = np.random.default_rng(seed)


def proba(kind, need_oof):
    if kind == "MLP":
        from sklearn.neural_network import MLPClassifier
        clf = MLPClassifier((256, 256), early_stopping=True, random_state=seed, max_iter=300)
    elif kind == "OBL":  # the library's guide (oblivious boosted trees) on these features
        from sklearn.base import BaseEstimator, ClassifierMixin

        from vae_augment.guide import class_proba, fit_guide

        class OBL(ClassifierMixin, BaseEstimator):
            def fit(self, x, y):
                self.classes_ = np.unique(y)
                yi = np.searchsorted(self.classes_, y)
                self.trees = fit_guide(np.asarray(x, np.float32), yi, len(self.classes_),
                                       iterations=100, depth=6, seed=seed)
                return self

            def predict_proba(self, x):
                x = np.asarray(x, np.float32)
                return np.stack([class_proba(self.trees, x, np.full(len(x), c))
                                 for c in range(len(self.classes_))], 1)

            def predict(self, x):
                return self.classes_[self.predict_proba(x).argmax(1)]

        clf = OBL()
    elif kind == "HGBs":  # a small guide: 30 trees of depth 4
        from sklearn.ensemble import HistGradientBoostingClassifier
        clf = HistGradientBoostingClassifier(max_iter=30, max_depth=4, random_state=0)
    else:
        clf = U.classifier(kind)
    oof = cross_val_predict(clf, sp.Xtr, sp.y_tr, cv=5, method="predict_proba") if need_oof else None
    clf.fit(sp.Xtr, sp.y_tr)
    xs, _ = augmented(sp, big)
    syn = clf.predict_proba(xs[len(sp.Xtr):])
    return list(clf.classes_), oof, syn


def select(classes, oof, syn, mode, bins=10):
    idx = []
    for c, n in sp.need.items():
        j = classes.index(c)
        rows = np.flatnonzero(ys == c)
        s = syn[rows, j]
        if mode == "first":
            pick = rows[:n]
        elif mode == "top":
            pick = rows[np.argsort(-s, kind="stable")[:n]]
        elif mode.startswith("floor"):  # drop rows under the q-quantile of the real rows' p
            q = float(mode[5:])
            ok = rows[s >= np.quantile(oof[sp.y_tr == c, j], q)]
            pick = (rng.choice(ok, n, replace=False) if len(ok) >= n
                    else rows[np.argsort(-s, kind="stable")[:n]])
        else:  # match the real rows' distribution of p(c | x) over quantile bins
            real = oof[sp.y_tr == c, j]
            edges = np.unique(np.quantile(real, np.linspace(0, 1, bins + 1)[1:-1]))
            rb, sb = np.searchsorted(edges, real), np.searchsorted(edges, s)
            want = np.bincount(rb, minlength=len(edges) + 1) / len(real)
            have = np.bincount(sb, minlength=len(edges) + 1) / len(s)
            w = np.where(have[sb] > 0, want[sb] / np.maximum(have[sb], 1e-12), 0.0)
            replace = np.count_nonzero(w) < n
            pick = rows[rng.choice(len(rows), n, replace=replace, p=w / w.sum())]
        idx.extend(pick.tolist())
    return big.take(pa.array(sorted(idx)))


print(f"{ds} s{seed} keep {keep} epochs {art.config['metrics']['epochs_run']}", flush=True)
PLAN = json.loads(os.environ.get("PLAN", '{"HGB": ["first", "top", "match"], "LR": ["top"], "MLP": ["top", "match"]}'))
for kind, modes in PLAN.items():
    classes, oof, syn = proba(kind, any(md.startswith(("match", "floor")) for md in modes))
    for mode in modes:
        synth = select(classes, oof, syn, mode)
        c2st = c2st_auc(enc, sp.train, synth, seed=seed)
        print(f"{ds} s{seed} keep {keep} {kind}-{mode:6s} {scores(sp, synth)} C2ST {c2st:.3f}",
              flush=True)
