"""Halving the learning rate on a plateau of the watched validation bound (after the KL
warm-up, 5 epochs without a 0.01 % gain, down to 1e-5), then `utility.py` run with the
remaining arguments; early stopping as always (session 28, measured):

    cd benchmarks/explore && ../../.venv/bin/python lr_plateau.py --methods vae ...
"""
import sys

import _common  # noqa: F401  (import paths)
import utility  # noqa: E402

_run_vae = utility.run_vae
PATIENCE, FACTOR, MIN_LR, WARMUP = 5, 0.5, 1e-5, 10


def plateau():
    import keras

    class Plateau(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best, self.wait, self.cuts = float("inf"), 0, []

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            key = next((k for k in ("val_beta_neg_elbo", "val_neg_elbo") if k in logs), None)
            if key is None or epoch < WARMUP:
                return
            value = float(logs[key])
            if self.best == float("inf") or value < self.best - 1e-4 * abs(self.best):
                self.best, self.wait = value, 0
                return
            self.wait += 1
            if self.wait >= PATIENCE:
                lr = self.model.optimizer.learning_rate
                new = max(float(lr.numpy()) * FACTOR, MIN_LR)
                lr.assign(new)
                self.cuts.append((epoch, new))
                self.wait = 0

    return Plateau()


def run_vae(train, label, seed, vae_kwargs):
    cb = plateau()
    out = _run_vae(train, label, seed, {**vae_kwargs, "callbacks": [cb]})
    print("lr cuts (epoch, lr):", cb.cuts, file=sys.stderr)
    return out


utility.run_vae = run_vae
if __name__ == "__main__":
    sys.exit(utility.main(sys.argv[1:]))
