"""Moment-matched selection of the guided draws (session 42; measured, not built).

Session 16 found the guided rows a caricature of credit's bad class for a linear model: an LR
fitted on the real rows gives them a mean logit about 0.5 above the real bad rows' (SMOTE's:
level) with a narrow spread (SMOTE's is narrow too). This draws POOL times the rows each class
needs (the product's guided generation) and keeps the needed number so that the kept rows'
mean, in the protocol's feature space (standardized numerics, one-hot categories), matches the
class's real training rows:

- ``tilt``: exponential tilting (the dual of entropy balancing): weights w_i ∝ exp(λ·f_i)
  with λ chosen so that the weighted pool mean equals the real mean; then the needed rows are
  drawn without replacement with probability ∝ w (Efraimidis-Spirakis keys).
- ``herd``: greedy herding: add the pool row that brings the kept rows' running mean nearest
  the real mean, one at a time.
- ``random``: a uniform subset of the pool (the control: the same pool, no matching).

Prints, per split seed and variant, LR / HGB minority F1, C2ST, and the real-LR logit mean
and sd of the added minority rows (lr_threshold.py's check); then the means over the seeds.

    cd benchmarks/explore && ../../.venv/bin/python tilt.py credit 0,1,2 2
"""
import sys

import _common
import numpy as np
import pyarrow as pa
import utility as U
from scipy.optimize import minimize
from scipy.special import logsumexp

MEANS: dict[str, list] = {}


def tilt_weights(f: np.ndarray, mu: np.ndarray, ridge: float = 1e-3) -> np.ndarray:
    """w ∝ exp(f·λ) whose weighted mean of f is mu (as near as a small ridge on λ allows)."""
    fc = f - mu

    def obj(lam):
        a = fc @ lam
        lse = logsumexp(a)
        p = np.exp(a - lse)
        return lse + 0.5 * ridge * lam @ lam, fc.T @ p + ridge * lam

    lam = minimize(obj, np.zeros(f.shape[1]), jac=True, method="L-BFGS-B").x
    a = fc @ lam
    return np.exp(a - logsumexp(a))


def select(kind: str, f: np.ndarray, mu: np.ndarray, n: int, rng) -> np.ndarray:
    if kind == "random":
        return rng.choice(len(f), n, replace=False)
    if kind == "tilt":
        w = tilt_weights(f, mu)
        keys = np.log(rng.random(len(f))) / np.maximum(w, 1e-300)
        return np.argsort(-keys)[:n]
    # herding
    chosen = np.zeros(len(f), bool)
    total = np.zeros(f.shape[1])
    out = []
    for k in range(1, n + 1):
        d = ((total + f - k * mu) ** 2).sum(axis=1)
        d[chosen] = np.inf
        i = int(np.argmin(d))
        chosen[i] = True
        total += f[i]
        out.append(i)
    return np.asarray(out)


def run(d: str, seed: int, pool: int, variants: list[str]):
    from vae_augment.api import fit, sample

    sp = _common.split(d, seed)
    art = fit(sp.train, label=sp.label, seed=seed)
    need = {c: n for c, n in sp.need.items() if n > 0}
    big = sample(art, {c: pool * n for c, n in need.items()}, seed=seed, guided=True)
    x_b, y_b = U.to_frame(big, sp.label)
    x_b = U._cat_to_object(x_b)[list(sp.x_tr.columns)]
    fb = sp.pre.transform(x_b)
    fb = fb.toarray() if hasattr(fb, "toarray") else np.asarray(fb)
    xtr = sp.Xtr.toarray() if hasattr(sp.Xtr, "toarray") else np.asarray(sp.Xtr)
    y_b = np.asarray(y_b).astype(sp.y_tr.dtype)
    ref = U.classifier("LR").fit(sp.Xtr, sp.y_tr)
    sign = 1.0 if ref.classes_[1] == sp.minority else -1.0
    real_m = sign * ref.decision_function(sp.Xtr[sp.y_tr == sp.minority])
    for kind in variants:
        rng = np.random.default_rng(seed)
        keep = []
        for c, n in need.items():
            idx = np.flatnonzero(y_b == c)
            mu = xtr[sp.y_tr == c].mean(axis=0)
            keep.append(idx[select(kind, fb[idx], mu, n, rng)])
        keep = np.sort(np.concatenate(keep))
        synth = big.take(pa.array(keep))
        xs = np.vstack([xtr, fb[keep]])
        ys = np.concatenate([sp.y_tr, y_b[keep]])
        row = {}
        for clf_name in ("LR", "HGB"):
            clf = U.classifier(clf_name).fit(xs, ys)
            row[clf_name] = _common.f1(sp, clf.predict(sp.Xte.toarray() if hasattr(sp.Xte, "toarray") else sp.Xte))
        row["C2ST"] = U.c2st_class_matched(art.encoding, sp.train, synth, sp.label, seed)
        added = fb[keep][y_b[keep] == sp.minority]
        logit = sign * ref.decision_function(added)
        row["logit_mean"] = float(logit.mean() - real_m.mean())
        row["logit_sd"] = float(logit.std())
        MEANS.setdefault(kind, []).append(row)
        print(f"{d} {seed} {kind:6s} " + " ".join(f"{k} {v:.3f}" for k, v in row.items())
              + f" (real logit mean {real_m.mean():+.3f} sd {real_m.std():.3f})", flush=True)


def main():
    d = sys.argv[1]
    seeds = [int(s) for s in sys.argv[2].split(",")]
    pool = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    variants = sys.argv[4].split(",") if len(sys.argv) > 4 else ["random", "tilt", "herd"]
    for seed in seeds:
        run(d, seed, pool, variants)
    for kind, rows in MEANS.items():
        print(f"mean {d} {kind:6s} " + " ".join(
            f"{k} {np.mean([r[k] for r in rows]):.3f}" for k in rows[0]), flush=True)


if __name__ == "__main__":
    main()
