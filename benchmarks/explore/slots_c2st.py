"""One default fit of a split, sampled with 4 generation seeds under uniform and under
stratified bank slots (`ConditionalVAE._bank_slots` patched in turn): C2ST, LR and HGB of
each draw.

    cd benchmarks/explore && ../../.venv/bin/python slots_c2st.py digits_longtail 2

One-off exploration behind benchmarks/results/quality.md, session 11.
"""
import sys

import _common
import numpy as np
import tensorflow as tf
import utility as U

from vae_augment.api import fit, sample
from vae_augment.balancing import samples_to_generate
from vae_augment.model import ConditionalVAE

stratified = ConditionalVAE._bank_slots


def uniform(y, filled, seed):
    """The slots before session 11: one uniform draw per row."""
    u = tf.random.stateless_uniform(tf.shape(y),
                                    seed=tf.random.experimental.stateless_fold_in(seed, 1))
    return tf.minimum(tf.cast(u * tf.cast(filled, tf.float32), tf.int32),
                      tf.maximum(filled - 1, 0))


def main():
    d, split = sys.argv[1], int(sys.argv[2])
    sp = _common.split(d, split)
    art = fit(sp.train, label=sp.label, seed=split, verbose=0)
    counts = {c: n for c, n in samples_to_generate(dict(art.encoding.class_counts), "auto").items()
              if n > 0}
    for name, slots in (("uniform", uniform), ("stratified", stratified)):
        ConditionalVAE._bank_slots = staticmethod(slots)
        values = []
        for g in range(4):
            synth = sample(art, counts, seed=g)
            c2 = U.c2st_class_matched(art.encoding, sp.train, synth, sp.label, split)
            values.append(c2)
            print(d, split, name, g, f"C2ST {c2:.3f} {_common.scores(sp, synth)}", flush=True)
        print(d, split, name, f"C2ST mean {np.mean(values):.3f} sd {np.std(values, ddof=1):.3f}",
              flush=True)


if __name__ == "__main__":
    main()
