"""Digits, the protocol's splits: Binomial vs beta-binomial pixel heads, and for the
beta-binomial head two ways to draw (the full beta-binomial; a Binomial at its mean).
LR / HGB macro F1 on the test split and class-matched C2ST, one fit per head and seed.

    .venv/bin/python benchmarks/explore/digits_heads.py SEEDS

One-off exploration behind benchmarks/results/quality.md, session 8 (not part of the library).
"""
import pathlib
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import tensorflow as tf
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import utility as u

import vae_augment as va
from vae_augment import distributions as D

seeds = [int(s) for s in (sys.argv[1] if len(sys.argv) > 1 else "0").split(",")]
t = pq.read_table(str(pathlib.Path(__file__).resolve().parents[2] / 'examples' / 'data' / 'digits_longtail.parquet'))
y_all = np.asarray(t.column('label'))
orig_bb = D.beta_binomial_sample


def at_mean(raw, n, seed):
    p = tf.clip_by_value(D.beta_binomial(raw, n).mean() / n, 1e-6, 1 - 1e-6)
    return D.binomial_sample(tf.math.log(p) - tf.math.log1p(-p), n, seed)


res = {}
vals, cnts = np.unique(y_all, return_counts=True)
minority = vals[np.argmin(cnts)]
for seed in seeds:
    tr, te = train_test_split(np.arange(len(y_all)), test_size=0.3, stratify=y_all, random_state=seed)
    train, test = t.take(pa.array(tr)), t.take(pa.array(te))
    x_tr, y_tr = u.to_frame(train, 'label')
    x_te, y_te = u.to_frame(test, 'label')
    for head in ('binomial', 'beta_binomial'):
        art = va.fit(train, label='label', seed=seed, image_likelihood=head)
        counts = {c: m for c, m in va.samples_to_generate(dict(art.encoding.class_counts), 'auto').items() if m > 0}
        variants = [('draw', orig_bb)] if head == 'binomial' else [('draw', orig_bb), ('binomial at mean', at_mean)]
        for name, fn in variants:
            D.beta_binomial_sample = fn
            synth = va.sample(art, counts, seed=seed)
            x_s, y_s = u.to_frame(synth, 'label')
            x_aug = pd.concat([x_tr, x_s[list(x_tr.columns)]], ignore_index=True)
            y_aug = np.concatenate([y_tr, y_s.astype(y_tr.dtype)])
            pre = u.preprocessor(x_tr).fit(x_tr)
            f1 = {}
            for kind in ('LR', 'HGB'):
                clf = u.classifier(kind).fit(pre.transform(x_aug), y_aug)
                m = Pipeline([('pre', pre), ('clf', clf)])
                f1[kind] = u.score(y_te, m.predict(x_te), m.predict_proba(x_te), m.classes_, minority, False)['f1']
            c2 = u.c2st_class_matched(art.encoding, train, synth, 'label', seed)
            key = f'{head} / {name}'
            res.setdefault(key, []).append((f1['LR'], f1['HGB'], c2))
            print(f'seed {seed} {key}: LR {f1["LR"]:.3f} HGB {f1["HGB"]:.3f} C2ST {c2:.3f}', flush=True)
        D.beta_binomial_sample = orig_bb
for key, rows in res.items():
    a = np.array(rows)
    print(f'{key}: LR {a[:, 0].mean():.3f} HGB {a[:, 1].mean():.3f} C2ST {a[:, 2].mean():.3f}')
