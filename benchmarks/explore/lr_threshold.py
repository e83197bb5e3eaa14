"""LR on a binary set (credit): minority F1 at the 0.5 threshold, the best F1 over thresholds,
the share predicted positive and the coefficients' L1 norm, for none / ROS / SMOTE /
vae-augment (fit kwargs from the JSON argument), one split seed at a time.

    cd benchmarks/explore && ../../.venv/bin/python lr_threshold.py credit 0,1,2 '{"guide_iterations": 50, "candidates": 8, "bank_keep": 1.0}'

One-off exploration behind benchmarks/results/quality.md, session 11.
"""
import json
import sys

import _common
import numpy as np
import utility as U
from imblearn.over_sampling import SMOTE, RandomOverSampler
from sklearn.metrics import f1_score


def report(sp, seed, tag, x, y):
    clf = U.classifier("LR").fit(x, y)
    p = clf.predict_proba(sp.Xte)[:, list(clf.classes_).index(sp.minority)]
    yb = sp.y_te == sp.minority
    thresholds = np.linspace(0.05, 0.95, 91)
    f1s = [f1_score(yb, p >= t) for t in thresholds]
    k = int(np.argmax(f1s))
    print(f"{seed} {tag:6s} F1@0.5 {f1_score(yb, p >= 0.5):.3f} best {f1s[k]:.3f} @ "
          f"{thresholds[k]:.2f}  predicted+ {np.mean(p >= 0.5):.3f} true+ {yb.mean():.3f} "
          f"|coef| {np.abs(clf.coef_).sum():.2f}", flush=True)


def main():
    d = sys.argv[1]
    kwargs = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    for seed in (int(s) for s in sys.argv[2].split(",")):
        sp = _common.split(d, seed)
        report(sp, seed, "none", sp.Xtr, sp.y_tr)
        for name, sampler in (("ros", RandomOverSampler(random_state=seed)),
                              ("smote", SMOTE(random_state=seed))):
            report(sp, seed, name, *sampler.fit_resample(sp.Xtr, sp.y_tr))
        _, synth, _ = U.run_vae(sp.train, sp.label, seed, kwargs)
        report(sp, seed, "vae", *_common.augmented(sp, synth))


if __name__ == "__main__":
    main()
