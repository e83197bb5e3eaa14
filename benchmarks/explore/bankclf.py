"""Bank pruning scored by a real-data classifier: fit once with the full bank, score each
stored posterior by the mean p(class | row) that a classifier trained on the real training
rows gives `draws` rows generated around it, keep each class's best share, generate the
`auto` counts. Compared with the library's pruning by the model's own class margin.

    .venv/bin/python benchmarks/explore/bankclf.py churn 0

One-off exploration behind benchmarks/results/quality.md (not part of the library).
"""
import json
import os
import sys

import numpy as np
import pyarrow as pa
import tensorflow as tf
from _common import U, augmented, generate, scores, split

from vae_augment import distributions as D
from vae_augment.api import fit
from vae_augment.evaluation import c2st_auc

ds = sys.argv[1]
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
kinds = json.loads(os.environ.get("KINDS", '["HGB", "MLP"]'))
keeps = json.loads(os.environ.get("KEEPS", "[0.25, 0.5]"))
sp = split(ds, seed)
art = fit(sp.train, label=sp.label, seed=seed, bank_keep=1.0)
m, enc = art.model, art.encoding
saved = [w.numpy().copy() for w in (m.bank_loc, m.bank_scale, m.bank_filled, m.bank_pos)]
rows = [enc.class_counts[c] for c in enc.classes]
plain_scores = m.bank_scores


def classifier(kind):
    if kind == "MLP":
        from sklearn.neural_network import MLPClassifier
        return MLPClassifier((256, 256), early_stopping=True, random_state=seed, max_iter=300)
    return U.classifier(kind)


def clf_scores(clf):
    classes = list(clf.classes_)

    def score(c, *, seed=0, draws=8):
        f = int(m.bank_filled.numpy()[c])
        loc = np.repeat(m.bank_loc.numpy()[c, :f], draws, axis=0)
        raw = np.repeat(m.bank_scale.numpy()[c, :f], draws, axis=0)
        seeds = tf.random.experimental.stateless_split(tf.constant([seed, c], tf.int32), 2)
        z = loc + D.normal_scale(raw) * tf.random.stateless_normal(loc.shape, seed=seeds[0])
        out = D.sample_features(m.layout, m.decode_params(z, tf.fill([f * draws], c)), seeds[1])
        dec = {k: (v.numpy(), None if mm is None else mm.numpy())
               for k, (v, mm) in enc.decode_tf(out).items()}
        table = pa.Table.from_batches([enc.to_arrow(dec, c)])
        xs, _ = augmented(sp, table)
        p = clf.predict_proba(xs[len(sp.Xtr):])[:, classes.index(enc.classes[c])]
        return -p.reshape(f, draws).mean(1)
    return score


def run(name, keep, scorer):
    for w, value in zip((m.bank_loc, m.bank_scale, m.bank_filled, m.bank_pos), saved):
        w.assign(value)
    m.bank_scores = scorer
    kept = m.prune_bank(keep, rows, seed=seed)
    synth = generate(m, enc, sp.need, seed)
    c2st = c2st_auc(enc, sp.train, synth, seed=seed)
    print(f"{ds} s{seed} bank-{name:6s} keep {keep:<5} kept {kept} {scores(sp, synth)} "
          f"C2ST {c2st:.3f}", flush=True)


print(f"{ds} s{seed} epochs {art.config['metrics']['epochs_run']}", flush=True)
run("margin", 0.25, plain_scores)
for kind in kinds:
    clf = classifier(kind).fit(sp.Xtr, sp.y_tr)
    for keep in keeps:
        run(kind, keep, clf_scores(clf))
