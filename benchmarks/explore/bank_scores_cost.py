"""Cost of bank pruning's scoring: `ConditionalVAE.bank_scores` as one traced graph (the library)
against the eager version it replaced (copied below), on the same fitted models, in one process.

    .venv/bin/python benchmarks/explore/bank_scores_cost.py [--datasets tiny,credit,hpc]
        [--repeats 5] [--fits 5]

Per dataset: one fit with ``bank_keep=1.0`` (the default fit before pruning: nothing else
reads `bank_keep`), then

* the scores of every class both ways: the largest absolute difference, whether each
  class's score order is the same, and whether `prune_bank` with the fit's own arguments
  (keep 0.25, the class counts, seed 0) keeps the same posteriors in the same order;
* `prune_bank` seconds, eager and traced alternated, median of `--repeats`: "cold" on a
  fresh copy of the model each time (the traced version then traces once: what a fit pays),
  "warm" again on the same copy (the bank restored in between);
* whole default fits (``bank_keep`` 0.25), eager and traced alternated (`--fits` each for
  the tiny model, one each for the others): median seconds of the fit and of its
  `prune_bank` call, whether the two fits trained the same weights and whether they ended
  with the same pruned bank. A fit's seconds vary by more than pruning costs on a shared
  machine; its `prune_bank` seconds are the direct figure.

"tiny" is the tests' model: `make_mixed_table()` with `FAST` (tests/conftest.py); credit,
hpc and digits_longtail are library-default fits (seed 0) of the ../shared/data tables.
"""

from __future__ import annotations

import argparse
import contextlib
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
import tensorflow as tf  # noqa: E402
from conftest import FAST, make_mixed_table  # noqa: E402

from vae_augment import distributions as D  # noqa: E402
from vae_augment.api import fit  # noqa: E402
from vae_augment.model import ConditionalVAE  # noqa: E402
from vae_augment.selection import RowSelection  # noqa: E402

SHARED = os.path.join(REPO, "..", "shared", "data")
DATASETS = {  # name -> (table or path, label, fit options)
    "tiny": (make_mixed_table, "label", FAST),
    "credit": (os.path.join(SHARED, "credit.parquet"), "Status", {}),
    "hpc": (os.path.join(SHARED, "hpc.parquet"), "class", {}),
    "digits_longtail": (os.path.join(SHARED, "digits_longtail.parquet"), "label", {}),
}


def eager_bank_scores(self, c: int, *, seed: int = 0, draws: int = 8) -> np.ndarray:
    """`RowSelection.bank_scores` before it was traced (as of b144bc2), verbatim."""
    f = int(self.bank_filled.numpy()[c])
    loc = np.repeat(self.bank_loc.numpy()[c, :f], draws, axis=0)
    raw = np.repeat(self.bank_scale.numpy()[c, :f], draws, axis=0)
    seeds = tf.random.experimental.stateless_split(tf.constant([seed, c], tf.int32), 2)
    z = loc + D.normal_scale(raw) * tf.random.stateless_normal(loc.shape, seed=seeds[0])
    y = tf.fill([f * draws], c)
    params = self.decode_params(z, y)
    out = D.sample_features(self.layout, params, seeds[1])
    return self.class_margin(out, z, y, params).numpy().reshape(f, draws).mean(1)


@contextlib.contextmanager
def scoring(kind: str, pruning_seconds: list | None = None):
    """`bank_scores` is the eager copy inside ``scoring("eager")``, the library's otherwise;
    each `prune_bank` call's seconds are appended to `pruning_seconds`."""
    traced, prune = RowSelection.bank_scores, RowSelection.prune_bank

    def timed_prune(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return prune(self, *args, **kwargs)
        finally:
            pruning_seconds.append(time.perf_counter() - t0)

    if kind == "eager":
        RowSelection.bank_scores = eager_bank_scores
    if pruning_seconds is not None:
        RowSelection.prune_bank = timed_prune
    try:
        yield
    finally:
        RowSelection.bank_scores, RowSelection.prune_bank = traced, prune


def copy_of(model):
    other = ConditionalVAE.from_config(model.get_config())
    other.set_weights(model.get_weights())
    return other


def bank(model):
    return [v.numpy().copy() for v in (model.bank_loc, model.bank_scale, model.bank_filled,
                                       model.bank_pos)]


def set_bank(model, values):
    for v, a in zip((model.bank_loc, model.bank_scale, model.bank_filled, model.bank_pos), values):
        v.assign(a)


def same_bank(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def fit_table(name: str, **changes):
    data, label, options = DATASETS[name]
    return fit(data() if callable(data) else data, label=label, seed=0, **{**options, **changes})


def compare(name: str, art, repeats: int) -> None:
    model, enc = art.model, art.encoding
    rows = [enc.class_counts[c] for c in enc.classes]
    full = bank(model)
    filled = full[2]
    print(f"== {name}: {model.n_classes} classes, bank filled {filled.tolist()}", flush=True)

    # the scores, both ways
    worst, same_order = 0.0, []
    for c in range(model.n_classes):
        if not filled[c]:
            continue
        old, new = eager_bank_scores(model, c), model.bank_scores(c)
        worst = max(worst, float(np.abs(old - new).max()))
        same_order.append(bool(np.array_equal(np.argsort(old, kind="stable"),
                                              np.argsort(new, kind="stable"))))
    print(f"max |score eager - traced|: {worst:.3g}; same score order per class: {same_order}")

    # the pruned banks, both ways
    kept = {}
    for kind in ("eager", "traced"):
        m = copy_of(model)
        with scoring(kind):
            counts = m.prune_bank(0.25, rows, seed=0)
        kept[kind] = (counts, bank(m))
    same_kept = all(
        set(map(tuple, kept["eager"][1][0][c, :k])) == set(map(tuple, kept["traced"][1][0][c, :k]))
        for c, k in enumerate(kept["eager"][0]))
    print(f"prune_bank(0.25): kept {kept['traced'][0]}; same kept sets: {same_kept}; "
          f"same banks (kept sets and order): {same_bank(kept['eager'][1], kept['traced'][1])}")

    # prune_bank seconds, cold (fresh copy: the traced version traces) and warm
    times = {(kind, state): [] for kind in ("eager", "traced") for state in ("cold", "warm")}
    for r in range(repeats):
        for kind in ("eager", "traced") if r % 2 == 0 else ("traced", "eager"):
            m = copy_of(model)
            with scoring(kind):
                for state in ("cold", "warm"):
                    set_bank(m, full)
                    t0 = time.perf_counter()
                    m.prune_bank(0.25, rows, seed=0)
                    times[kind, state].append(time.perf_counter() - t0)
    for state in ("cold", "warm"):
        e, t = (statistics.median(times[k, state]) for k in ("eager", "traced"))
        print(f"prune_bank {state}: eager {e:.3f} s, traced {t:.3f} s (median of {repeats}; "
              f"eager {fmt(times['eager', state])}, traced {fmt(times['traced', state])}); "
              f"eager / traced {e / t:.2f}")


def fmt(values) -> str:
    return "[" + ", ".join(f"{v:.3f}" for v in values) + "]"


def whole_fits(name: str, fits: int) -> None:
    times = {"eager": [], "traced": []}
    pruning = {"eager": [], "traced": []}
    last = {}
    for r in range(fits):
        for kind in ("eager", "traced") if r % 2 == 0 else ("traced", "eager"):
            with scoring(kind, pruning[kind]):
                t0 = time.perf_counter()
                art = fit_table(name)
                times[kind].append(time.perf_counter() - t0)
            last[kind] = art.model
    e, t = (statistics.median(times[k]) for k in ("eager", "traced"))
    pe, pt = (statistics.median(pruning[k]) for k in ("eager", "traced"))
    print(f"whole default fit: eager {e:.2f} s, traced {t:.2f} s (median of {fits}; eager "
          f"{fmt(times['eager'])}, traced {fmt(times['traced'])}); of which prune_bank: eager "
          f"{pe:.3f} s, traced {pt:.3f} s (eager {fmt(pruning['eager'])}, traced "
          f"{fmt(pruning['traced'])}), saved {pe - pt:+.3f} s per fit")
    print(f"  bank_kept {last['traced'].bank_filled.numpy().tolist()}; same trained weights: "
          f"{_same_trained(last['eager'], last['traced'])}; same pruned bank: "
          f"{same_bank(bank(last['eager']), bank(last['traced']))}", flush=True)


def _same_trained(a, b) -> bool:
    """The two models' weights other than the bank (which pruning rewrites) are equal."""
    skip = {id(v) for v in (a.bank_loc, a.bank_scale, a.bank_filled, a.bank_pos,
                            b.bank_loc, b.bank_scale, b.bank_filled, b.bank_pos)}
    wa = [v.numpy() for v in a.weights if id(v) not in skip]
    wb = [v.numpy() for v in b.weights if id(v) not in skip]
    return len(wa) == len(wb) and all(np.array_equal(x, y) for x, y in zip(wa, wb))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", default="tiny,credit,hpc")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--fits", type=int, default=5, help="whole fits of each kind (tiny)")
    args = parser.parse_args()
    print(f"# tf {tf.__version__}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}",
          flush=True)
    for name in args.datasets.split(","):
        compare(name, fit_table(name, bank_keep=1.0), args.repeats)
        whole_fits(name, args.fits if name == "tiny" else 1)
    print(f"# load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
