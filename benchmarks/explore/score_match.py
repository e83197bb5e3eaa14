"""Score-distribution matching instead of the guide's floor, from the same fit.

The guided setting redraws a synthetic row of class c while the guide gives it a probability
of c under a floor (the 25 % quantile of the real rows' out-of-fold probabilities): its rows
have none of the real class's lowest quarter of scores. Here a draw with guide score s is
instead accepted with probability a(s) proportional to f_real(s) / f_synth(s), a histogram
density ratio over equal-mass bins of the real rows' out-of-fold scores, so the synthetic
rows' scores follow the real class's (overlap kept at its real share, the excess of
wrongly-placed draws removed). a is capped so that a draw passes with probability >=
1 / TARGET_DRAWS; a row with no accepted draw among K keeps the draw of highest a.

Scored from one fit per (dataset, seed): plain draws, the guide's floor (the library's
guided generation) and the matching rule, each the `auto` counts.

    cd benchmarks/explore && ../../.venv/bin/python score_match.py hpc,credit 0,1,2

One-off exploration behind benchmarks/results/quality.md, session 11.
"""
import sys

import _common
import numpy as np
import pyarrow as pa
import tensorflow as tf
import utility as U

from vae_augment import GUIDED
from vae_augment import guide as G
from vae_augment import selection as S
from vae_augment.api import fit

BINS, K, TARGET_DRAWS = 10, 8, 3.0

# record the out-of-fold (and held-out) real scores that fit_guide turns into floors
recorded = []
_plain_class_proba = G.class_proba


def _recording_class_proba(trees, features, y, batch=8192):
    p = _plain_class_proba(trees, features, y, batch)
    recorded.append((p, np.asarray(y)))
    return p


S.G.class_proba = _recording_class_proba


def acceptance(real: np.ndarray, pool: np.ndarray):
    """Bin edges and per-bin acceptance a_b (see the module docstring)."""
    edges = np.unique(np.quantile(real, np.linspace(0, 1, BINS + 1)[1:-1]))
    f_real = np.bincount(np.searchsorted(edges, real), minlength=len(edges) + 1) / len(real)
    f_syn = np.bincount(np.searchsorted(edges, pool), minlength=len(edges) + 1) / len(pool)
    ratio = np.where(f_syn > 0, f_real / np.maximum(f_syn, 1e-12), 0.0)
    for cap in np.sort(ratio[ratio > 0])[::-1]:  # the largest cap with pass rate >= 1/TARGET
        a = np.minimum(1.0, ratio / cap)
        if (f_syn * a).sum() >= 1.0 / TARGET_DRAWS:
            return edges, a
    return edges, np.minimum(1.0, ratio / ratio[ratio > 0].min())


def matched(model, enc, need, seed, real_scores):
    tables = []
    rng = np.random.default_rng(seed)
    for c, n in need.items():
        ci = enc.class_index(c)
        # K plain draws per row: draw j of row i is row j * n + i (one call per draw round)
        draws = [model.plain_draw(tf.fill([n], ci), tf.constant([seed, 1000 * ci + j], tf.int32))
                 for j in range(K)]
        s = np.stack([model.guide_proba(d, tf.fill([n], ci)).numpy() for d in draws])  # [K, n]
        edges, a = acceptance(real_scores[ci], s.ravel())
        acc = a[np.searchsorted(edges, s)]  # [K, n]
        ok = rng.random(s.shape) < acc
        first = np.where(ok.any(0), ok.argmax(0), acc.argmax(0))
        out = {key: tf.gather_nd(tf.stack([d[key] for d in draws]),
                                 np.stack([first, np.arange(n)], 1)) for key in draws[0]}
        print(f"   class {c}: pass rate {float(ok.mean()):.3f}, accepted {float(ok.any(0).mean()):.3f}",
              flush=True)
        tables.append(_common.decode(enc, out, ci))
    return pa.concat_tables(tables)


def main():
    datasets = sys.argv[1].split(",")
    seeds = [int(s) for s in sys.argv[2].split(",")]
    res = {}
    for d in datasets:
        for seed in seeds:
            sp = _common.split(d, seed)
            recorded.clear()
            art = fit(sp.train, label=sp.label, seed=seed, verbose=0, **GUIDED)
            score = np.concatenate([p for p, _ in recorded])
            label = np.concatenate([y for _, y in recorded])
            print(f"{d} seed={seed}: {len(score)} real scores recorded", flush=True)
            real_scores = {c: score[label == c] for c in range(len(art.encoding.classes))}
            m, enc = art.model, art.encoding
            variants = {}
            m.candidates = 1
            variants["plain"] = _common.generate(m, enc, sp.need, seed)
            m.candidates = K
            variants["floor"] = _common.generate(m, enc, sp.need, seed)
            variants["match"] = matched(m, enc, sp.need, seed, real_scores)
            for tag, tab in variants.items():
                c2 = U.c2st_class_matched(enc, sp.train, tab, sp.label, seed)
                sc = _common.scores(sp, tab)
                print(f"{d} seed={seed} {tag} {sc} C2ST {c2:.3f}", flush=True)
                res.setdefault((d, tag), []).append([float(w) for w in sc.split()[1::2]] + [c2])
    print("means (LR HGB C2ST):")
    for (d, tag), rows in res.items():
        print(d, tag, " ".join(f"{v:.3f}" for v in np.mean(rows, 0)))


if __name__ == "__main__":
    main()
