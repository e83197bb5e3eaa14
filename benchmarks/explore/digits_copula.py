"""Digits: are synthetic images detected because pixels are drawn independently given z?
Fits the defaults on split SEED's 70 %, estimates the correlation of the pixels' residuals
given z (normal scores of randomized PIT values of the training images under their decoded
Binomials, z drawn from the posterior), then draws the same model's pixels through a Gaussian
copula with that correlation (shrunk towards the identity by LAMBDA) and compares C2ST.

    .venv/bin/python benchmarks/explore/digits_copula.py SEED [LAMBDA ...]

One-off exploration behind benchmarks/results/quality.md, session 8 (not part of the library).
"""
import pathlib
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import tensorflow as tf
from scipy import stats
from sklearn.model_selection import train_test_split

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import utility as u

import vae_augment as va
from vae_augment import distributions as D

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
lams = [float(a) for a in sys.argv[2:]] or [0.1]
t = pq.read_table(str(pathlib.Path(__file__).resolve().parents[2] / 'examples' / 'data' / 'digits_longtail.parquet'))
y = np.asarray(t.column('label'))
tr, _ = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=seed)
train = t.take(pa.array(tr))
art = va.fit(train, label='label', seed=seed)
model, enc = art.model, art.encoding
x = enc.encode(train)
n = 16
rng = np.random.default_rng(seed)
es = []
for rep in range(4):  # several posterior draws per image
    mu, raw = model.encode_params(x)
    q = D.gaussian(mu, raw)
    z = q.loc + q.scale * tf.random.normal(tf.shape(mu), seed=rep)
    p = tf.math.sigmoid(model.decode_params(z, x['y'])['tensor_0']).numpy().reshape(len(tr), -1)
    k = np.rint(np.asarray(x['tensor_0']).reshape(len(tr), -1) * n)
    lo = stats.binom.cdf(k - 1, n, p)
    pm = stats.binom.pmf(k, n, p)
    uu = np.clip(lo + rng.uniform(size=k.shape) * pm, 1e-6, 1 - 1e-6)
    es.append(stats.norm.ppf(uu))
e = np.concatenate(es)
corr = np.corrcoef(e.T)
corr = np.nan_to_num(corr)
np.fill_diagonal(corr, 1.0)
off = corr[~np.eye(len(corr), dtype=bool)]
print(f'residual corr: mean |r| {np.mean(np.abs(off)):.3f}, max {off.max():.3f}, '
      f'share |r|>0.2 {np.mean(np.abs(off) > 0.2):.3f}', flush=True)
neigh = [corr[i, i + 1] for i in range(63) if (i + 1) % 8]
print(f'horizontal neighbours mean r {np.mean(neigh):.3f}', flush=True)

counts = {c: m for c, m in va.samples_to_generate(dict(enc.class_counts), 'auto').items() if m > 0}
orig = D.binomial_sample


def copula_sample(chol):
    L = tf.constant(chol, tf.float32)

    def sample(logits, total_count, seed):
        shape = tf.shape(logits)
        p = tf.reshape(tf.math.sigmoid(tf.cast(logits, tf.float32)), [shape[0], -1])
        eps = tf.random.stateless_normal(tf.shape(p), seed=seed) @ tf.transpose(L)
        uu = 0.5 * (1.0 + tf.math.erf(eps / np.sqrt(2.0)))
        dist = D.tfd.Binomial(total_count=float(total_count), probs=p)
        cnt = tf.zeros_like(p)
        for kk in range(int(total_count)):
            cnt += tf.cast(uu > dist.cdf(float(kk)), tf.float32)
        return tf.reshape(cnt, shape)
    return sample


def img(tab):
    return np.asarray(tab.column('image').combine_chunks().flatten()).reshape(tab.num_rows, 64).astype(float)


for name, fn in [('independent', orig)] + [
        (f'copula lambda={lam}', copula_sample(np.linalg.cholesky((1 - lam) * corr + lam * np.eye(64))))
        for lam in lams]:
    D.binomial_sample = fn
    aucs = []
    for s in range(3):
        synth = va.sample(art, counts, seed=100 + s)
        aucs.append(u.c2st_class_matched(enc, train, synth, 'label', s))
    xs = img(synth)
    print(f'{name}: c2st {np.round(aucs, 3)} mean {np.mean(aucs):.3f}  zero={np.mean(xs == 0):.3f} '
          f'sixteen={np.mean(xs == 16):.3f}', flush=True)
D.binomial_sample = orig
