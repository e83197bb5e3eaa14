"""Guided redraws: do rows whose first draw failed the churner floor pass more often when only
the likelihood noise is redrawn (z and the decoder output kept) or with a fresh draw? Bundled churn,
20 epochs, 8,192 rows.

    .venv/bin/python benchmarks/explore/noise_redraw.py

One-off exploration behind benchmarks/results/quality.md (not part of the library).
"""
import tensorflow as tf
from _common import bundled_churn_guided

from vae_augment import distributions as D

m, ci = bundled_churn_guided()
n = 8192
y = tf.fill([n], ci)
floor = m.guide_floor.numpy()[ci]
out, z, params = m._draw(y, tf.constant([1, 2]), with_latent=True)
p0 = m.guide_proba(out, y).numpy() >= floor
print("first pass", p0.mean())
fail = ~p0
for r in range(3):  # noise-only redraws: the same decoder output, new likelihood draws
    o2 = D.sample_features(m.layout, params, tf.constant([5 + r, 9]))
    p2 = m.guide_proba(o2, y).numpy() >= floor
    print(f"noise-only redraw {r}: pass among first-failed {p2[fail].mean():.3f}, "
          f"among first-passed {p2[p0].mean():.3f}")
o3 = m._draw(y, tf.constant([7, 7]))
p3 = m.guide_proba(o3, y).numpy() >= floor
print(f"fresh draw: pass among first-failed {p3[fail].mean():.3f}")
