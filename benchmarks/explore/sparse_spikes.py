"""Sparse input through VAEOverSampler: synthetic non-zeros per row with and without spike
indicators (session 19). From the repository root:

    .venv/bin/python benchmarks/explore/sparse_spikes.py
"""

import numpy as np
from scipy import sparse

from vae_augment import VAEOverSampler

Xs = sparse.random(1500, 20, density=0.05, format="csr", random_state=0)
ys = np.where(np.arange(1500) < 200, "a", "b")
real = (Xs[:200].toarray() != 0).sum(1).mean()
for kw in ({"spike_share": 0.0}, {}):
    Xr, _ = VAEOverSampler(random_state=0, epochs=40, **kw).fit_resample(Xs, ys)
    synthetic = (Xr[1500:].toarray() != 0).sum(1).mean()
    print(kw or "default (None)", "synthetic non-zeros/row", round(synthetic, 3),
          "real minority", round(real, 3))
