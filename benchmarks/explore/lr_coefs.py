"""LR on credit: which coefficients the synthetic rows move. For none / ROS / SMOTE /
vae-augment (fit kwargs from the JSON argument), one split seed at a time: minority F1, AP and
the standardized coefficients, printed side by side with the largest differences from SMOTE.

    cd benchmarks/explore && ../../.venv/bin/python lr_coefs.py credit 0 '{"guide_iterations": 50, "candidates": 8, "bank_keep": 1.0}'

One-off exploration behind benchmarks/results/quality.md, session 15.
"""
import json
import sys

import _common
import numpy as np
import utility as U
from imblearn.over_sampling import SMOTE, RandomOverSampler
from sklearn.metrics import average_precision_score, f1_score


def fit(sp, x, y):
    clf = U.classifier("LR").fit(x, y)
    p = clf.predict_proba(sp.Xte)[:, list(clf.classes_).index(sp.minority)]
    yb = sp.y_te == sp.minority
    sign = 1.0 if clf.classes_[1] == sp.minority else -1.0
    return (f1_score(yb, p >= 0.5), average_precision_score(yb, p),
            sign * clf.coef_[0], sign * clf.intercept_[0])


def main():
    d = sys.argv[1]
    kwargs = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    for seed in (int(s) for s in sys.argv[2].split(",")):
        sp = _common.split(d, seed)
        names = list(sp.pre.get_feature_names_out())
        res = {"none": fit(sp, sp.Xtr, sp.y_tr)}
        res["ros"] = fit(sp, *RandomOverSampler(random_state=seed).fit_resample(sp.Xtr, sp.y_tr))
        res["smote"] = fit(sp, *SMOTE(random_state=seed).fit_resample(sp.Xtr, sp.y_tr))
        _, synth, _ = U.run_vae(sp.train, sp.label, seed, kwargs)
        xs, ys = _common.augmented(sp, synth)
        res["vae"] = fit(sp, xs, ys)
        for k, (f, ap, _, b) in res.items():
            print(f"{seed} {k:6s} F1 {f:.3f} AP {ap:.3f} intercept {b:+.2f}", flush=True)
        diff = res["vae"][2] - res["smote"][2]
        order = np.argsort(-np.abs(diff))
        print("feature                       none    ros  smote    vae")
        for j in order[:15]:
            print(f"{names[j][:28]:28s} " + " ".join(f"{res[k][2][j]:+.2f}" for k in res))
        # the synthetic bad rows against the real bad rows, on the standardized features
        s = xs[len(sp.Xtr):][ys[len(sp.Xtr):] == sp.minority]
        r = sp.Xtr[sp.y_tr == sp.minority]
        print("feature                     real mean  synth mean  real sd  synth sd")
        for j in order[:15]:
            print(f"{names[j][:28]:28s} {r[:, j].mean():+8.3f} {s[:, j].mean():+10.3f} "
                  f"{r[:, j].std():8.3f} {s[:, j].std():8.3f}")


if __name__ == "__main__":
    main()
