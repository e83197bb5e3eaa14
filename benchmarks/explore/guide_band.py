"""The class guide with a band instead of a floor: a draw is redrawn when its guide score is
under its class's floor (the `guide_quantile` quantile of the real rows' out-of-fold
probabilities) or over a ceiling (the `hi` quantile), so the synthetic rows lose the
caricatured upper tail as well as the rows in another class's region. A patch of
`RowSelection.fit_guide` / `_guided` run through `benchmarks/utility.py`'s protocol:

    cd benchmarks/explore && ../../.venv/bin/python guide_band.py 0.9 --datasets credit --seeds 0,1,2 --methods vae --vae-json '{"guide_iterations": 50, "candidates": 8, "bank_keep": 1.0, "dequantize": true}'

One-off exploration behind benchmarks/results/quality.md, session 16.
"""
import sys

import _common  # noqa: F401  (import paths)
import tensorflow as tf
import utility as U

from vae_augment.selection import RowSelection

HI = float(sys.argv.pop(1))
plain_fit_guide = RowSelection.fit_guide


def fit_guide(self, arrays, **kw):
    q = self.guide_quantile
    self.guide_quantile = HI
    plain_fit_guide(self, arrays, **kw)  # same seed, same trees: only the quantile differs
    self._band_ceiling = tf.Variable(self.guide_floor.numpy(), trainable=False)
    self.guide_quantile = q
    return plain_fit_guide(self, arrays, **kw)


def _guided(self, y, seed, *, tensor_mean):
    y = tf.cast(y, tf.int32)
    seed = tf.cast(seed, tf.int32)
    out = self._draw(y, seed, tensor_mean=tensor_mean)
    floor = tf.gather(self.guide_floor, y)
    ceil = tf.gather(self._band_ceiling, y)

    def off(s, lo, hi):  # how far a score is outside the band (0 inside)
        return tf.maximum(lo - s, 0.0) + tf.maximum(s - hi, 0.0)

    dist = off(self.guide_proba(out, y), floor, ceil)

    def redraw(r, out, dist):
        pending = tf.where(dist > 0)
        n_p = tf.shape(pending)[0]
        y_p = tf.concat([tf.gather_nd(y, pending), y[:tf.maximum(1 - n_p, 0)]], axis=0)
        cand = self._draw(y_p, tf.random.experimental.stateless_fold_in(seed, r),
                          tensor_mean=tensor_mean)
        cand = {key: value[:n_p] for key, value in cand.items()}
        y_p = y_p[:n_p]
        d_p = off(self.guide_proba(cand, y_p), tf.gather(self.guide_floor, y_p),
                  tf.gather(self._band_ceiling, y_p))
        better = d_p < tf.gather_nd(dist, pending)
        take = tf.boolean_mask(pending, better)
        out = {key: tf.tensor_scatter_nd_update(value, take, tf.boolean_mask(cand[key], better))
               for key, value in out.items()}
        dist = tf.tensor_scatter_nd_update(dist, take, tf.boolean_mask(d_p, better))
        return r + 1, out, dist

    def more(r, out, dist):
        return tf.logical_and(r < self.candidates, tf.reduce_any(dist > 0))

    _, out, _ = tf.while_loop(more, redraw, (tf.constant(1, tf.int32), out, dist))
    return out


RowSelection.fit_guide = fit_guide
RowSelection._guided = _guided

if __name__ == "__main__":
    sys.exit(U.main())
