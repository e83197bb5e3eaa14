"""Cheap selection on one split: from one fit with a class guide, compare plain draws, the
guided redraws with at most 2 or 8 draws, and keeping the best-scored n of a pool of
(1 + extra) * n plain draws (one decoder pass over the pool, no redraws), for a bank kept whole
and for the defaults' pruned bank (0.25).

    .venv/bin/python benchmarks/explore/cheap_select.py churn 0

One-off exploration behind benchmarks/results/quality.md (not part of the library).
"""
import sys

import numpy as np
import pyarrow as pa
import tensorflow as tf
from _common import scores, split

from vae_augment.api import fit
from vae_augment.evaluation import c2st_auc

ds, seed = sys.argv[1], int(sys.argv[2])
sp = split(ds, seed)


def table(m, enc, out, ci):
    dec = {k: (v.numpy(), None if mk is None else mk.numpy())
           for k, (v, mk) in enc.decode_tf(out).items()}
    return pa.Table.from_batches([enc.to_arrow(dec, ci)])


def run(m, enc, tag, mode, k=1, extra=0.0):
    parts = []
    for c, n in sp.need.items():
        ci = enc.class_index(c)
        s = tf.constant([seed, ci], tf.int32)
        if mode == "generate":
            m.candidates = k
            parts.append(table(m, enc, m.generate(tf.fill([n], ci), s), ci))
            continue
        pool_n = int(np.ceil(n * (1 + extra)))
        y = tf.fill([pool_n], ci)
        out = m._draw(y, s)
        score = (m.guide_proba(out, y) / tf.maximum(m.guide_floor[ci], 1e-6)).numpy()
        keep = np.sort(np.argsort(-score, kind="stable")[:n])
        parts.append(table(m, enc, {key: tf.gather(v, keep) for key, v in out.items()}, ci))
    synth = pa.concat_tables(parts)
    print(f"{ds} s{seed} {tag:28s} {scores(sp, synth)} "
          f"C2ST {c2st_auc(enc, sp.train, synth, seed=seed):.3f}", flush=True)


for keep in (1.0, 0.25):
    art = fit(sp.train, label=sp.label, seed=seed, verbose=0, guide_iterations=50,
              candidates=8, bank_keep=keep)
    m, enc = art.model, art.encoding
    run(m, enc, f"keep {keep} plain", "generate", 1)
    run(m, enc, f"keep {keep} guided K2", "generate", 2)
    run(m, enc, f"keep {keep} guided K8", "generate", 8)
    for extra in (0.2, 0.5, 1.0):
        run(m, enc, f"keep {keep} pool top of {1 + extra:.1f}n", "pool", extra=extra)
