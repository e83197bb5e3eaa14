"""Digits: where does the detector's edge come from? C2ST (split SEED's training rows vs
equally many rows of each class) for reconstructions of the training images (z from the
posterior, pixels drawn independently from the decoded Binomials), the same with z at the
posterior mean, and held-out real images (the detector's floor on this little data).

    .venv/bin/python benchmarks/explore/digits_recon.py SEED

One-off exploration behind benchmarks/results/quality.md, session 8 (not part of the library).
"""
import pathlib
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import tensorflow as tf
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import utility as u

import vae_augment as va
from vae_augment import distributions as D
from vae_augment.evaluation import c2st_auc

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
t = pq.read_table(str(pathlib.Path(__file__).resolve().parents[2] / 'examples' / 'data' / 'digits_longtail.parquet'))
y = np.asarray(t.column('label'))
tr, te = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=seed)
train, test = t.take(pa.array(tr)), t.take(pa.array(te))
art = va.fit(train, label='label', seed=seed)
model, enc = art.model, art.encoding
x = enc.encode(train)
rng = np.random.default_rng(seed)
typ = train.schema.field('image').type


def table_of(counts):
    flat = pa.array(counts.reshape(-1).astype(np.int64), type=typ.value_type)
    img = pa.FixedSizeListArray.from_arrays(flat, typ.list_size)
    return pa.table({'image': img, 'label': train.column('label')}, schema=train.schema)


def recon(sample_z):
    mu, raw = model.encode_params(x)
    q = D.gaussian(mu, raw)
    z = q.loc + q.scale * tf.random.normal(tf.shape(mu), seed=1) if sample_z else q.loc
    p = tf.math.sigmoid(model.decode_params(z, x['y'])['tensor_0']).numpy().reshape(len(tr), -1)
    return table_of(rng.binomial(16, p))


def auc(fake):
    return np.mean([c2st_auc(enc, train, fake, seed=s) for s in range(3)])


print(f'reconstruction, z from the posterior: {auc(recon(True)):.3f}', flush=True)
print(f'reconstruction, z at the posterior mean: {auc(recon(False)):.3f}', flush=True)
counts = {c: m for c, m in va.samples_to_generate(dict(enc.class_counts), 'auto').items() if m > 0}
synth = va.sample(art, counts, seed=100)
print(f'generated (defaults), class-matched: '
      f'{np.mean([u.c2st_class_matched(enc, train, synth, "label", s) for s in range(3)]):.3f}', flush=True)
# real held-out rows against the training rows, class-matched sizes
print(f'held-out real rows: {np.mean([u.c2st_class_matched(enc, train, test, "label", s) for s in range(3)]):.3f}', flush=True)
