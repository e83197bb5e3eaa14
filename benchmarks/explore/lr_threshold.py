"""LR on a binary set (credit): minority F1 at the 0.5 threshold, the best F1 over thresholds,
the share predicted positive, precision, recall, AP and the coefficients' L1 norm, for none /
ROS / SMOTE / vae-augment (fit kwargs from the JSON argument), one split seed at a time; then
where the synthetic minority rows sit for an LR fitted on the real rows alone (the mean and
sd of its logit over the real and the synthetic minority rows); then the means over the seeds.

    cd benchmarks/explore && ../../.venv/bin/python lr_threshold.py credit 0,1,2 '{"guide_iterations": 50, "candidates": 8, "bank_keep": 1.0}'

One-off exploration behind benchmarks/results/quality.md, sessions 11 and 16.
"""
import json
import sys

import _common
import numpy as np
import utility as U
from imblearn.over_sampling import SMOTE, RandomOverSampler
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score

MEANS: dict[str, list] = {}


def report(sp, seed, tag, x, y):
    clf = U.classifier("LR").fit(x, y)
    p = clf.predict_proba(sp.Xte)[:, list(clf.classes_).index(sp.minority)]
    yb = sp.y_te == sp.minority
    thresholds = np.linspace(0.05, 0.95, 91)
    f1s = [f1_score(yb, p >= t) for t in thresholds]
    k = int(np.argmax(f1s))
    row = {"F1@0.5": f1_score(yb, p >= 0.5), "best": f1s[k], "predicted+": np.mean(p >= 0.5),
           "precision": precision_score(yb, p >= 0.5), "recall": recall_score(yb, p >= 0.5),
           "AP": average_precision_score(yb, p)}
    MEANS.setdefault(tag, []).append(row)
    print(f"{seed} {tag:6s} " + " ".join(f"{n} {v:.3f}" for n, v in row.items())
          + f" (best @ {thresholds[k]:.2f}) true+ {yb.mean():.3f} |coef| {np.abs(clf.coef_).sum():.2f}",
          flush=True)


def minority_logits(sp, seed, tag, xs, ys):
    """The logit of an LR fitted on the real training rows, over the real and the added
    minority rows (`xs`, `ys`: the real rows first, as imbalanced-learn's samplers and
    `_common.augmented` return them): are the added ones placed like the real ones?"""
    ref = U.classifier("LR").fit(sp.Xtr, sp.y_tr)
    sign = 1.0 if ref.classes_[1] == sp.minority else -1.0
    real = sign * ref.decision_function(sp.Xtr[sp.y_tr == sp.minority])
    synth = sign * ref.decision_function(xs[len(sp.Xtr):][ys[len(sp.Xtr):] == sp.minority])
    print(f"{seed} {tag:6s} real-LR logit of the minority rows: real mean {real.mean():+.3f} sd "
          f"{real.std():.3f}, added mean {synth.mean():+.3f} sd {synth.std():.3f}", flush=True)


def main():
    d = sys.argv[1]
    kwargs = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    for seed in (int(s) for s in sys.argv[2].split(",")):
        sp = _common.split(d, seed)
        report(sp, seed, "none", sp.Xtr, sp.y_tr)
        for name, sampler in (("ros", RandomOverSampler(random_state=seed)),
                              ("smote", SMOTE(random_state=seed))):
            xs, ys = sampler.fit_resample(sp.Xtr, sp.y_tr)
            report(sp, seed, name, xs, ys)
            minority_logits(sp, seed, name, xs, ys)
        _, synth, _ = U.run_vae(sp.train, sp.label, seed, kwargs)
        xs, ys = _common.augmented(sp, synth)
        report(sp, seed, "vae", xs, ys)
        minority_logits(sp, seed, "vae", xs, ys)
    for tag, rows in MEANS.items():
        print(f"mean {tag:6s} " + " ".join(f"{n} {np.mean([r[n] for r in rows]):.3f}"
                                          for n in rows[0]))


if __name__ == "__main__":
    main()
