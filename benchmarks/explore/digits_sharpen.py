"""Digits: push pixel draws towards 0 and 16 (Binomial logits x 1, 1.5, 2, 3) and score C2ST
and the shares of pixels at 0 and 16, for a fit on all bundled rows (`full`) or on split 0's
70 % (`split`). Library defaults otherwise, seed 0.

    .venv/bin/python benchmarks/explore/digits_sharpen.py full|split

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

import vae_augment as va
from vae_augment import distributions as D

t = pq.read_table(str(pathlib.Path(__file__).resolve().parents[2] / 'examples' / 'data' / 'digits_longtail.parquet'))
y = np.asarray(t.column('label'))
def img(tab): return np.asarray(tab.column('image').combine_chunks().flatten()).reshape(tab.num_rows, 64).astype(float)
orig = D.binomial_sample
which = sys.argv[1]
if which == "split":
    tr, _ = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=0)
    data = t.take(pa.array(tr))
else:
    data = t
art = va.fit(data, label='label', seed=0)
counts = {c: n for c, n in va.samples_to_generate(dict(art.encoding.class_counts), 'auto').items() if n > 0}
xr = img(data)
print(which, f'real zero={np.mean(xr == 0):.3f} sixteen={np.mean(xr == 16):.3f}')
for a in (1.0, 1.5, 2.0, 3.0):
    D.binomial_sample = lambda logits, n, seed, a=a: orig(logits * a, n, seed)
    synth = va.sample(art, counts, seed=0)
    x = img(synth)
    print(which, 'scale', a, 'c2st', round(u.c2st_class_matched(art.encoding, data, synth, 'label', 0), 3), f'zero={np.mean(x == 0):.3f} sixteen={np.mean(x == 16):.3f}', flush=True)
