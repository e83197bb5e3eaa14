"""`class_balance` with a floor on the class size: a class with fewer than MIN_ROWS training rows
is weighted as if it had MIN_ROWS (the rest of the formula unchanged), so a handful of rows is
not weighted up into a memorised likelihood. Patches `vae_augment.training.class_weights`, then
runs `benchmarks/utility.py` with the remaining arguments.

    .venv/bin/python benchmarks/explore/class_floor.py MIN_ROWS --methods vae --vae-json '{"class_balance": 0.5}' ...

One-off exploration behind benchmarks/results/quality.md, session 10, written before the library
had the floor (`CLASS_BALANCE_MIN_ROWS`, 50); `class_floor.py 0` is the library without it. Of
the four datasets only
digits_longtail has classes under 50 training rows, so the floor leaves the others' weights as
they are.
"""
import sys

import _common  # noqa: F401  (import paths)
import numpy as np
import utility as U

from vae_augment import training as T

min_rows = float(sys.argv[1])
plain = T.class_weights


def class_weights(counts, power):
    n = np.maximum(np.asarray(counts, float), 1.0)
    w = plain(np.maximum(n, min_rows), power, min_rows=0)  # the library's own floor off
    if w is None:
        return None
    w = np.asarray(w)
    return (w * n.sum() / (w * n).sum()).tolist()  # mean 1 over the real rows again


T.class_weights = class_weights
print("class size floor", min_rows, file=sys.stderr)
sys.exit(U.main(sys.argv[2:]))
