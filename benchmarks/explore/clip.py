"""Run SCRIPT with Adam's gradients clipped (session 54; measured, not built):

    CLIP=auto:3:0.01 PYTHONPATH=. .venv/bin/python benchmarks/explore/clip.py \
        benchmarks/utility.py --methods vae --datasets churn,credit --seeds 0,1,2 --json OUT

CLIP=fixed:X: Keras' ``global_clipnorm=X``. CLIP=auto:K:W: each step's gradients scaled down
to K x an exponential average of the global norm (weight W a step; the average is fed the
clipped norm, and clipping starts after 100 steps). CLIP=none: the library as it is.
"""
import os
import runpy
import sys

import keras
import tensorflow as tf

_Adam = keras.optimizers.Adam


def clipped_adam(mode: str):
    if mode.startswith("fixed:"):
        value = float(mode.split(":")[1])

        class Clipped(_Adam):
            def __init__(self, *a, **k):
                k.setdefault("global_clipnorm", value)
                super().__init__(*a, **k)

        return Clipped
    _, k_, w_ = mode.split(":")
    K, W = float(k_), float(w_)

    class AutoClip(_Adam):
        def build(self, variables):
            super().build(variables)
            self._ema = self.add_variable((), initializer="zeros", name="norm_ema")

        def _clip_gradients(self, grads):
            n = tf.linalg.global_norm([g for g in grads if g is not None])
            step = tf.cast(self.iterations, tf.float32)
            thresh = tf.where(step < 100.0, tf.constant(float("inf")), K * self._ema)
            factor = tf.minimum(1.0, thresh / tf.maximum(n, 1e-12))
            w = tf.maximum(W, 1.0 / (step + 1.0))
            self._ema.assign(self._ema + w * (tf.minimum(n, thresh) - self._ema))
            return [g if g is None else g * tf.cast(factor, g.dtype) for g in grads]

    return AutoClip


if __name__ == "__main__":
    mode = os.environ.get("CLIP", "none")
    if mode != "none":
        keras.optimizers.Adam = clipped_adam(mode)
    print("clip mode", mode, file=sys.stderr)
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
