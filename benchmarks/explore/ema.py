"""Weight averaging (Polyak / EMA): Adam keeps an exponential moving average of the weights
(`use_ema=True`, momentum MOMENTUM), validation and early stopping see the averaged weights, and
the model keeps the best averaged weights. Patches `vae_augment.training`, then runs
`benchmarks/utility.py` with the remaining arguments.

    .venv/bin/python benchmarks/explore/ema.py MOMENTUM --methods vae --datasets digits_longtail ...

One-off exploration behind benchmarks/results/quality.md, session 10: does averaging steady
digits' utility, which moves with the epoch early stopping ends on?
"""
import functools
import sys

import _common  # noqa: F401  (import paths)
import keras
import utility as U

from vae_augment import callbacks as cb

momentum = float(sys.argv[1])


class EMAEarlyStopping(cb.EarlyStopping):
    """EarlyStopping on the averaged weights: they are in the model for validation and for the
    epoch-end check (so `best_weights` are averaged weights) and out of it while training."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.swap = keras.callbacks.SwapEMAWeights(swap_on_epoch=True)

    def set_model(self, model):
        super().set_model(model)
        self.swap.set_model(model)

    def set_params(self, params):
        super().set_params(params)
        self.swap.set_params(params)

    def on_epoch_begin(self, epoch, logs=None):
        self.swap.on_epoch_begin(epoch, logs)

    def on_test_begin(self, logs=None):
        self.swap.on_test_begin(logs)

    def on_test_end(self, logs=None):
        self.swap.on_test_end(logs)

    def on_epoch_end(self, epoch, logs=None):
        self.swap.on_epoch_end(epoch, logs)
        super().on_epoch_end(epoch, logs)


# training.py imports both inside its function, so patching the modules reaches it
cb.EarlyStopping = EMAEarlyStopping
keras.optimizers.Adam = functools.partial(keras.optimizers.Adam, use_ema=True,
                                          ema_momentum=momentum)
print("ema momentum", momentum, file=sys.stderr)
sys.exit(U.main(sys.argv[2:]))
