"""Keras' Adam against the same Adam with each variable's update one TensorFlow
``ResourceApplyAdam`` op (`adam` below), in one process, alternated (session 52; measured,
not built).

Keras 3's `Adam.update_step` builds its update from about twenty ops a variable (casts, the
bias corrections' powers, the two moment updates, the step); TensorFlow's kernel computes the
same update term for term in one op. The two agree to rounding (8 ulps after 50 steps of a
small model), not bit for bit, so a fit's weights part after a few epochs.

For each pair of runs, the same fit with either optimizer: a tiny test fit of the mixed test
table (`tests/conftest.py`'s ``FAST``: 2 epochs, tracing-bound) and churn for a fixed number
of epochs (patience past them, no class guide: the training loop itself). Prints the CPU
seconds of this process (steadier than wall time on a shared machine) and the wall seconds,
their medians and the ratios, and how far apart the two optimizers' trained weights are.

    PYTHONPATH=. .venv/bin/python benchmarks/explore/fused_adam.py [PAIRS] [CHURN_EPOCHS]
"""

from __future__ import annotations

import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))

import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from vae_augment._keras import keras  # noqa: E402
from vae_augment.api import fit  # noqa: E402

ORIGINAL = keras.optimizers.Adam


def fused_adam_class() -> type:
    """Keras' `Adam` whose dense updates run as TensorFlow's ``ResourceApplyAdam`` (the
    same variables, names and config; AMSGrad and sparse gradients take Keras' update)."""
    import tensorflow as tf

    class FusedAdam(ORIGINAL):
        def update_step(self, gradient, variable, learning_rate):
            if self.amsgrad or isinstance(gradient, tf.IndexedSlices):
                return super().update_step(gradient, variable, learning_rate)
            dtype = variable.dtype
            step = tf.cast(self.iterations + 1, dtype)
            beta_1, beta_2 = tf.cast(self.beta_1, dtype), tf.cast(self.beta_2, dtype)
            index = self._get_variable_index(variable)
            m, v = self._momentums[index], self._velocities[index]
            tf.raw_ops.ResourceApplyAdam(
                var=variable.handle, m=m.value.handle, v=v.value.handle,
                beta1_power=tf.pow(beta_1, step), beta2_power=tf.pow(beta_2, step),
                lr=tf.cast(learning_rate, dtype), beta1=beta_1, beta2=beta_2,
                epsilon=tf.cast(self.epsilon, dtype), grad=tf.cast(gradient, dtype))

    return FusedAdam


def _stepper(opt, variables):
    """A traced update of `variables` by `opt` (a closure: default arguments would be traced
    as tensors)."""
    import tensorflow as tf

    @tf.function
    def step(grads):
        opt.apply(grads, variables)

    return step


def agreement(steps: int = 50) -> tuple[float, float]:
    """(largest difference, in ulps of the Keras result) between the two optimizers' weights
    after `steps` updates of a 7x5 dense layer from the same weights and gradients."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    w0 = [rng.normal(size=(7, 5)).astype("float32"), rng.normal(size=(5,)).astype("float32")]
    grads = [[(rng.normal(size=w.shape) * 10 ** rng.uniform(-4, 1)).astype("float32")
              for w in w0] for _ in range(steps)]
    out = []
    for cls in (ORIGINAL, fused_adam_class()):
        opt = cls(1e-3)
        vs = [keras.Variable(w) for w in w0]
        opt.build(vs)

        apply = _stepper(opt, vs)
        for g in grads:
            apply([tf.constant(x) for x in g])
        out.append([v.numpy() for v in vs])
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(*out))
    ulps = max(float(np.max(np.abs(a - b) / np.spacing(np.abs(a)))) for a, b in zip(*out))
    return diff, ulps


def main(pairs: int = 6, churn_epochs: int = 10) -> None:
    from conftest import FAST, make_mixed_table

    mixed = make_mixed_table()
    churn = pq.read_table(os.path.join(HERE, "..", "..", "examples", "data", "churn.parquet"))
    jobs = {
        "tiny": lambda seed: fit(mixed, label="label", seed=seed, **FAST),
        "churn": lambda seed: fit(churn, label="churn", seed=0, epochs=churn_epochs,
                                  patience=churn_epochs + 1, guide_iterations=0, verbose=0),
    }
    makers = {"keras": ORIGINAL, "fused": fused_adam_class()}
    cpu = {(j, m): [] for j in jobs for m in makers}
    wall = {(j, m): [] for j in jobs for m in makers}
    weights = {}
    keras.optimizers.Adam = ORIGINAL  # what training.train_model builds
    jobs["tiny"](0)  # warm: imports, first traces of shared functions
    for r in range(pairs):
        for name in (("keras", "fused") if r % 2 == 0 else ("fused", "keras")):
            keras.optimizers.Adam = makers[name]
            for job, run in jobs.items():
                c, w = time.process_time(), time.perf_counter()
                art = run(r)
                cpu[job, name].append(time.process_time() - c)
                wall[job, name].append(time.perf_counter() - w)
                if job == "churn" and r == 0:
                    weights[name] = art.model.get_weights()
    for job in jobs:
        k_cpu, f_cpu = np.median(cpu[job, "keras"]), np.median(cpu[job, "fused"])
        k_wall, f_wall = np.median(wall[job, "keras"]), np.median(wall[job, "fused"])
        print(f"{job}: CPU s keras {np.round(cpu[job, 'keras'], 2).tolist()} fused "
              f"{np.round(cpu[job, 'fused'], 2).tolist()}; medians {k_cpu:.2f} -> {f_cpu:.2f} "
              f"({f_cpu / k_cpu:.2f}x); wall medians {k_wall:.2f} -> {f_wall:.2f} "
              f"({f_wall / k_wall:.2f}x)", flush=True)
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(weights["keras"], weights["fused"]))
    scale = max(float(np.max(np.abs(a))) for a in weights["keras"])
    print(f"churn, {churn_epochs} epochs, seed 0: largest weight difference {diff:.3g} "
          f"(largest weight {scale:.3g}); bit-identical: {diff == 0.0}")
    keras.optimizers.Adam = ORIGINAL
    for steps in (1, 50):
        d, u = agreement(steps)
        print(f"a 7x5 dense layer after {steps} update(s): largest difference {d:.3g} "
              f"({u:.0f} ulps)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
