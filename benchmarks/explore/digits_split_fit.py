"""Digits fitted on split 0's 70 % (the protocol's training rows), defaults: C2ST overall and
per class (`evaluate`), and per-class pixel shares at 0 and 16.

    .venv/bin/python benchmarks/explore/digits_split_fit.py

One-off exploration behind benchmarks/results/quality.md, session 7 (not part of the library).
"""
import pathlib
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import utility as u

from vae_augment.evaluation import evaluate

t = pq.read_table(str(pathlib.Path(__file__).resolve().parents[2] / 'examples' / 'data' / 'digits_longtail.parquet'))
y = np.asarray(t.column('label'))
tr, _ = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=0)
train = t.take(pa.array(tr))
def img(tab): return np.asarray(tab.column('image').combine_chunks().flatten()).reshape(tab.num_rows, 64).astype(float)
def stats(tab, c):
    lab = np.asarray(tab.column('label'))
    x = img(tab)[lab == c]
    return f"n={len(x):3d} zero={np.mean(x==0):.2f} sixteen={np.mean(x==16):.3f}"
art, synth, sec = u.run_vae(train, 'label', 0, {})
print('split0 c2st', round(u.c2st_class_matched(art.encoding, train, synth, 'label', 0), 3))

rep = evaluate(train, synth, label='label', seed=0, progress=False)
print('per class', {k: (round(v,3) if v else v) for k, v in rep['detection']['per_class'].items()})
for c in range(1, 10):
    print('  class', c, 'real', stats(train, c), '| syn', stats(synth, c))
