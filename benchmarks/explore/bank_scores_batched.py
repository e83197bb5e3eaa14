"""Bank pruning's scoring, one class at a time (as before) vs every class's rows in one batch
(`RowSelection._bank_scores`, the library now), on the same fitted models, in one process.

    .venv/bin/python benchmarks/explore/bank_scores_batched.py [--datasets tiny,credit,hpc,digits_longtail]
        [--repeats 5]

Per dataset: one fit with ``bank_keep=1.0`` (the fit before pruning), then the scores of every
class both ways (largest absolute difference), whether `prune_bank` with a fit's own
arguments (keep 0.25, the class counts, seed 0) keeps the same posteriors in the same order,
and the seconds of the scoring both ways, alternated, median of `--repeats`.

"tiny" is the tests' model: `make_mixed_table()` with `FAST` (tests/conftest.py); the others
are library-default fits (seed 0) of the ../shared/data tables.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.join(HERE, "..", "..")
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "tests"))

import numpy as np  # noqa: E402
from conftest import FAST, make_mixed_table  # noqa: E402

from vae_augment.api import fit  # noqa: E402
from vae_augment.selection import RowSelection  # noqa: E402

SHARED = os.path.join(REPO, "..", "shared", "data")
DATASETS = {  # name -> (table or path, label, fit options)
    "tiny": (make_mixed_table, "label", FAST),
    "credit": (os.path.join(SHARED, "credit.parquet"), "Status", {}),
    "hpc": (os.path.join(SHARED, "hpc.parquet"), "class", {}),
    "digits_longtail": (os.path.join(SHARED, "digits_longtail.parquet"), "label", {}),
}


BATCHED = RowSelection._bank_scores


def per_class(model, classes, **kwargs):
    return {c: BATCHED(model, [c], **kwargs)[c] for c in classes}


def pruned(model, scores_fn, counts):
    """The bank `prune_bank(0.25, counts)` leaves, with `_bank_scores` replaced by `scores_fn`."""
    weights = [v.numpy() for v in (model.bank_loc, model.bank_scale, model.bank_filled)]
    type(model)._bank_scores = scores_fn
    try:
        model.prune_bank(0.25, counts, seed=0, progress=False)
        out = [v.numpy() for v in (model.bank_loc, model.bank_scale, model.bank_filled)]
    finally:
        type(model)._bank_scores = BATCHED
        for var, w in zip((model.bank_loc, model.bank_scale, model.bank_filled), weights):
            var.assign(w)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import tensorflow as tf
    print(f"# tf {tf.__version__}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    for name in args.datasets.split(","):
        source, label, opts = DATASETS[name]
        data = source() if callable(source) else source
        art = fit(data, label=label, seed=0, **{**opts, "bank_keep": 1.0})
        m = art.model
        filled = [int(f) for f in m.bank_filled.numpy()]
        counts = [art.encoding.class_counts[c] for c in art.encoding.classes]
        classes = [c for c in range(m.n_classes) if filled[c]]
        print(f"== {name}: {m.n_classes} classes, bank filled {filled}")
        a, b = per_class(m, classes), m._bank_scores(classes)
        diff = max(float(np.abs(a[c] - b[c]).max()) for c in classes)
        same_order = [bool(np.array_equal(np.argsort(a[c], kind="stable"),
                                          np.argsort(b[c], kind="stable"))) for c in classes]
        banks = (pruned(m, per_class, counts), pruned(m, BATCHED, counts))
        same_bank = all(np.array_equal(x, y) for x, y in zip(*banks))
        print(f"max |score per class - batched|: {diff:.2e}; same score order per class: "
              f"{same_order}; prune_bank(0.25) same bank: {same_bank}, kept "
              f"{banks[1][2].tolist()}")
        t = {"per class": [], "batched": []}
        for _ in range(args.repeats):
            for kind, fn in (("per class", per_class), ("batched", BATCHED)):
                t0 = time.perf_counter()
                fn(m, classes)
                t[kind].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in t.items()}
        print(f"scoring every class: per class {med['per class']:.3f} s, batched "
              f"{med['batched']:.3f} s (median of {args.repeats}; per class "
              f"{[round(x, 3) for x in t['per class']]}, batched "
              f"{[round(x, 3) for x in t['batched']]}); per class / batched "
              f"{med['per class'] / med['batched']:.2f}", flush=True)


if __name__ == "__main__":
    main()
