"""Sparse input through VAEOverSampler: synthetic non-zeros per row with and without spike
indicators (session 19). Run from the repository root: .venv/bin/python benchmarks/explore/sparse_spikes.py"""
from scipy import sparse; import numpy as np
from vae_augment import VAEOverSampler
Xs = sparse.random(1500, 20, density=0.05, format="csr", random_state=0)
ys = np.where(np.arange(1500) < 200, "a", "b")
real = (Xs[:200].toarray() != 0).sum(1).mean()
for kw in ({"spike_share": 0.0}, {}):
    Xr, _ = VAEOverSampler(random_state=0, epochs=40, **kw).fit_resample(Xs, ys)
    print(kw or "default (None)", "synthetic non-zeros/row", round((Xr[1500:].toarray() != 0).sum(1).mean(), 3), "real minority", round(real, 3))
