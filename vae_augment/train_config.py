"""The training settings: `TrainConfig` (every keyword argument of `vae_augment.fit`), the
guided and unguided presets, and the defaults that follow the data (the KL weight by the
table's size, class weights). `vae_augment.training` re-exports every name here."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from vae_augment.errors import VAEAugmentError, arg
from vae_augment.schema import COUNT_LIKELIHOODS, FLOAT_TENSORS

__all__ = [
    "TrainConfig", "GUIDED", "UNGUIDED", "class_weights", "CLASS_BALANCE_MIN_ROWS",
    "default_beta", "SMALL_TABLE_ROWS", "DEFAULT_BETA_ROWS", "DEFAULT_BETA", "RARE_CLASS_ROWS",
    "SMALL_CLASS_ROWS", "small_classes",
]



#: The guided setting, the defaults since session 39: the class guide (50 rounds) redraws
#: synthetic rows that sit less firmly in their class than most real rows of it, up to 8
#: draws, in place of bank pruning. Balancing (`balance`, `BalanceClasses`, `VAEOverSampler`,
#: `tfdata.balance`) uses it; `sample` and `synthetic_dataset` draw once per row unless asked
#: (``guided=True``), keeping their speed (benchmarks/results/quality.md, guided_cost.md; 100
#: rounds scored the same and generated 27 % slower). `class_balance` 0.5 beside it is level
#: over 8 split seeds (quality.md, sessions 9-10), so it is not part of it.
#: KL weight 0.5 (session 25), early stopping then watching the weighted bound: with the
#: guide, rows much harder to detect (C2ST over 8 splits: credit 0.653 -> 0.508, hpc 0.726 ->
#: 0.588, churn 0.533 -> 0.485, lower on every split) at about level utility; without the
#: guide it is not better (credit's C2ST rises). The guide floor at the real rows' 40 %
#: quantile, not 25 % (session 26): over 8 splits hpc HGB +0.010 (7 of 8) and churn HGB +0.011,
#: for C2ST +0.03 to +0.08 (credit 0.586, hpc 0.647) and 0.94x generation speed.
#: ``fit(..., **GUIDED)``, ``VAEOverSampler(**GUIDED)`` and CLI ``--guided`` name it.
#: Session 45: the KL weight by the table's size (``beta=None``, `default_beta`): 0.5 from
#: 2,000 rows, 1 on tables of up to 500 rows.
GUIDED: dict[str, Any] = {"guide_iterations": 50, "candidates": 8, "bank_keep": 1.0,
                          "dequantize": True, "beta": None, "guide_quantile": 0.4}

#: The defaults before session 39: no guide, KL weight 1, each class's stored posteriors
#: pruned to the quarter the model places most firmly in the class. Balanced rows met 4 of
#: the 9 quality targets against the guided setting's 8 (quality.md); a fit is a little
#: faster (no guide to fit). ``fit(..., **UNGUIDED)``, CLI ``--unguided``.
UNGUIDED: dict[str, Any] = {"guide_iterations": 0, "candidates": 1, "bank_keep": 0.25,
                            "dequantize": False, "beta": 1.0, "guide_quantile": 0.25}


@dataclasses.dataclass
class TrainConfig:
    """Training hyperparameters (all keyword arguments of `vae_augment.fit`)."""

    epochs: int = 300
    batch_size: int = 256
    latent_dim: int = 16
    hidden: tuple[int, ...] = (256, 256)
    learning_rate: float = 1e-3
    kl_warmup_epochs: int = 10
    patience: int = 20
    validation_split: float = 0.1
    class_prior: bool = True
    dropout: float = 0.0
    seed: int = 0
    jit_compile: bool | None = None  # None: XLA on GPU/TPU, off on CPU (measured slower there)
    precision: str = "float32"  # float32 | mixed_float16 | mixed_bfloat16
    shuffle_buffer: int = 65536  # rows in the shuffle buffer when streaming from Parquet
    # KL weight in the training loss; early stopping watches the validation ELBO at 1.0 and,
    # below or above it, the bound trained (recon + beta x KL). None: by the table's size
    # (`default_beta`: 0.5 from 2,000 rows, 1 up to 500); training sets the value it used
    beta: float | None = None
    latent_source: str = "posterior"  # generate z from stored class posteriors, or "prior"
    bank_size: int = 1024  # posteriors kept per class for latent_source="posterior"
    temperature: float = 1.0  # scale of the latent noise at sampling time
    # most draws per balancing row (class-consistency selection); None: 8 with the class
    # guide, 1 without (selection by the class margin costs candidates x classes draws)
    candidates: int | None = None
    # share of stored posteriors kept per class, most class-consistent; None: 1.0 with the
    # class guide, 0.25 without (the former defaults: bank pruning in place of the guide)
    bank_keep: float | None = None
    num_components: int = 1  # Gaussians per numeric column in the likelihood (1: no mixture)
    # integer tensors (images), one of schema.COUNT_LIKELIHOODS: "binomial", the better
    # classifier features (digits LR / HGB macro F1 0.880 / 0.884), or "beta_binomial",
    # overdispersed counts, the more realistic images (digits C2ST 0.714 instead of 0.848)
    image_likelihood: str = "binomial"
    # tensors with a Normal head (float elements, wide-range integers), one of
    # schema.FLOAT_TENSORS: "auto" draws 1-d ones (embeddings: C2ST 1.00 -> 0.48-0.55 on
    # isotropic ones) from the head and takes its mean for images; "draw"; "mean"
    float_tensors: str = "auto"
    guide_iterations: int = 50  # boosting rounds of the class guide (0: no guide; see GUIDED)
    guide_depth: int = 6  # levels of each guide tree
    guide_quantile: float = 0.4  # the guide floor: this quantile of the real rows' scores
    # rows' training-loss weights: (1 / class frequency) ** class_balance, mean 1 over the
    # rows (0: every row alike; 1: every class alike; classes under 50 rows weighed as 50).
    # See `class_weights`.
    class_balance: float = 0.0
    # the class one-hot at every decoder layer, not only the first (see ConditionalVAE)
    condition_every_layer: bool = True
    # train on tied numeric values (integers, rounded floats, a column's many zeros) spread
    # uniformly over their quantile intervals, not on the intervals' midpoints (see
    # Encoding.tie_halfwidths); the class guide is fitted on real rows spread the same way.
    # Part of GUIDED: with the guide it is level or better on every table over 8 splits
    # (hpc C2ST 0.769 -> 0.733); without it, churn's classifiers lose 0.01
    # (benchmarks/results/quality.md, session 13)
    dequantize: bool = True
    # a Bernoulli indicator (beside the null indicators) for each numeric column's value that
    # holds at least this share of the column, e.g. a zero-inflated column's zeros; the rest
    # of the column keeps the quantile-normal map (Encoding.with_spikes). 0: none
    spike_share: float = 0.0

    def __post_init__(self):
        guided = not isinstance(self.guide_iterations, bool) and isinstance(
            self.guide_iterations, (int, np.integer)) and self.guide_iterations > 0
        if self.candidates is None:
            self.candidates = GUIDED["candidates"] if guided else UNGUIDED["candidates"]
        if self.bank_keep is None:
            self.bank_keep = GUIDED["bank_keep"] if guided else UNGUIDED["bank_keep"]
        at_least_zero = ("guide_iterations", "patience", "kl_warmup_epochs")
        for name in ("epochs", "batch_size", "latent_dim", "candidates", "bank_size",
                     "shuffle_buffer", "num_components", "guide_iterations", "guide_depth",
                     "patience", "kl_warmup_epochs"):
            value, low = getattr(self, name), 0 if name in at_least_zero else 1
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                word = "a positive integer" if low else "an integer >= 0"
                raise VAEAugmentError(f"{arg(name)} must be {word}, got {value!r}")
        seed = self.seed
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
                or not 0 <= seed < 2**32:  # numpy's and Keras' seeding range
            raise VAEAugmentError(f"{arg('seed')} must be an integer in [0, 2**32 - 1] to "
                                  f"train, got {seed!r}")
        if not 0.0 <= float(self.guide_quantile) < 1.0:
            raise VAEAugmentError(
                f"{arg('guide_quantile')} must be in [0, 1), got {self.guide_quantile!r}")
        if isinstance(self.class_balance, bool) or not 0.0 <= float(self.class_balance) <= 1.0:
            raise VAEAugmentError(
                f"{arg('class_balance')} must be in [0, 1], got {self.class_balance!r}")
        if (isinstance(self.spike_share, bool)
                or not isinstance(self.spike_share, (int, float, np.integer, np.floating))
                or not 0.0 <= float(self.spike_share) <= 1.0):
            raise VAEAugmentError(f"{arg('spike_share')} must be in [0, 1], got {self.spike_share!r}")
        for name in ("condition_every_layer", "dequantize"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise VAEAugmentError(f"{arg(name)} must be True or False, "
                                      f"got {getattr(self, name)!r}")
        if not 0.0 <= self.validation_split < 1.0:
            raise VAEAugmentError(
                f"{arg('validation_split')} must be in [0, 1), got {self.validation_split!r}"
            )
        try:
            widths = tuple(self.hidden)
            if any(isinstance(h, bool) or int(h) != h for h in widths):
                raise ValueError("not whole numbers")
            self.hidden = tuple(int(h) for h in widths)
        except (TypeError, ValueError) as exc:  # 8.5 was truncated to 8 units
            raise VAEAugmentError(f"{arg('hidden')} must be layer widths (positive integers), "
                                  f"got {self.hidden!r}") from exc
        if not self.hidden or min(self.hidden) < 1:
            raise VAEAugmentError(f"{arg('hidden')} must be one or more positive layer widths, "
                                  f"got {self.hidden!r}")
        if not (isinstance(self.learning_rate, (int, float, np.integer, np.floating))
                and math.isfinite(float(self.learning_rate)) and float(self.learning_rate) > 0):
            raise VAEAugmentError(f"{arg('learning_rate')} must be a finite number > 0, "
                                  f"got {self.learning_rate!r}")
        self.learning_rate = float(self.learning_rate)  # Keras' Adam refuses np.float32
        if self.image_likelihood not in COUNT_LIKELIHOODS:
            raise VAEAugmentError(
                f"{arg('image_likelihood')} must be one of {list(COUNT_LIKELIHOODS)}, "
                f"got {self.image_likelihood!r}"
            )
        if self.float_tensors not in FLOAT_TENSORS:
            raise VAEAugmentError(
                f"{arg('float_tensors')} must be one of {list(FLOAT_TENSORS)}, "
                f"got {self.float_tensors!r}"
            )
        if self.latent_source not in ("posterior", "prior"):
            raise VAEAugmentError(
                f"{arg('latent_source')} must be 'posterior' or 'prior', got {self.latent_source!r}"
            )
        if not 0.0 < float(self.bank_keep) <= 1.0:
            raise VAEAugmentError(f"{arg('bank_keep')} must be in (0, 1], got {self.bank_keep!r}")
        for name in ("beta", "temperature"):
            if name == "beta" and self.beta is None:
                continue
            value = getattr(self, name)
            if (isinstance(value, bool) or not isinstance(
                    value, (int, float, np.integer, np.floating)) or not 0 < float(value) < math.inf):
                raise VAEAugmentError(f"{arg(name)} must be a finite number > 0, got "
                                      f"{getattr(self, name)!r}")
        from vae_augment.strategy import PRECISIONS

        if self.precision not in PRECISIONS:
            raise VAEAugmentError(
                f"{arg('precision')} must be one of {list(PRECISIONS)}, got {self.precision!r}"
            )

    def to_json(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        # NumPy scalars (a search space's values, e.g. np.int32 batch sizes) as Python's: JSON
        return {k: v.item() if isinstance(v, np.generic) else v for k, v in d.items()}


#: `default_beta`: tables (no tensor column) of up to this many rows train with KL weight 1
SMALL_TABLE_ROWS = 500
#: ... and from this many rows with `DEFAULT_BETA`; between, the weight falls linearly in
#: the logarithm of the rows (0.75 at 1,000)
DEFAULT_BETA_ROWS = 2000
DEFAULT_BETA = 0.5


def default_beta(rows: int, tensors: bool = False) -> float:
    """The KL weight `TrainConfig` ``beta=None`` trains with: `DEFAULT_BETA` (0.5) on tables of
    `DEFAULT_BETA_ROWS` (2,000) rows or more, or with a tensor column; 1 on tables of up to
    `SMALL_TABLE_ROWS` (500); between, falling linearly in log(rows). `rows` counts the
    rows given to training, the validation split's included.

    Why (benchmarks/results/quality.md, sessions 25, 44 and 45): at 0.5 the synthetic rows of
    the public tables are harder to detect (C2ST nearer 0.5) at level utility, but on
    subsamples of churn, credit and hpc of 120-1,000 rows they sit next to their training
    rows: the C2ST falls to 0.29-0.48, under chance, and up to 62 % of churn's rows at 1,000
    rows are nearer a training row than 95 % of unseen real rows are. A weight of 1 there
    brings the C2ST back toward 0.5 (500 rows: credit 0.38 -> 0.52, hpc 0.41 -> 0.53) and
    the near share down (churn 0.32 -> 0.17) at F1 level within the seeds' spread; at 2,000
    rows it overshoots (credit 0.53 -> 0.69), so the weight returns to 0.5 there. Image
    tables are left at 0.5: digits_longtail's 405 training rows are under-fitted at 0.5 (C2ST
    0.685), and 1 scored worse on all three figures (LR 0.877 -> 0.871, C2ST 0.714). A cost:
    a class of about ten rows comes out nearer the majority at 1 (a 110-row table's 10-row
    class: a column null in half its rows was null in 22-37 % of its synthetic rows, against
    40-50 % at 0.5; `benchmarks/explore/tiny_class.py`): `train_model` notes it when a class
    has fewer than `SMALL_CLASS_ROWS` (20) rows.

    Example:
        >>> [default_beta(n) for n in (300, 500, 1000, 2000, 100_000)]
        [1.0, 1.0, 0.75, 0.5, 0.5]
        >>> default_beta(300, tensors=True)
        0.5
    """
    if tensors or rows >= DEFAULT_BETA_ROWS:
        return DEFAULT_BETA
    if rows <= SMALL_TABLE_ROWS:
        return 1.0
    share = math.log(rows / SMALL_TABLE_ROWS) / math.log(DEFAULT_BETA_ROWS / SMALL_TABLE_ROWS)
    return round(1.0 - (1.0 - DEFAULT_BETA) * share, 4)


#: `class_weights` weighs a class with fewer training rows as one with this many: a handful of
#: rows weighted up many times over is a likelihood fitted to those few rows. A safeguard: on
#: digits_longtail (7 classes of 5-43 rows) it is level with the plain formula over 8 split seeds
#: (benchmarks/results/quality.md, session 10); no other dataset has a class under it.
CLASS_BALANCE_MIN_ROWS = 50
RARE_CLASS_ROWS = 5  # fewer rows in a class: `train_model` warns
#: fewer rows in a class, and a KL weight `default_beta` set above `DEFAULT_BETA`: `train_model`
#: notes that ``beta=0.5`` keeps more of such a class's traits. A 10-row class's null share
#: was off by 0.20 at weight 1 against 0.04 at 0.5, a 20-row class's by 0.19 against 0.13, a
#: 40-row class's level (`benchmarks/explore/tiny_class.py`; quality.md, sessions 45-46).
#: Neither that class's own KL weight at 0.5, class-balanced training nor patience 80 did
#: what the table's weight 0.5 does (session 46), so the note names the table's weight.
SMALL_CLASS_ROWS = 20


def small_classes(class_rows, beta: float | None) -> dict[Any, int]:
    """The classes of `class_rows` (class -> training rows; its keys kept: the encoding's
    classes, or a report's text) with fewer than `SMALL_CLASS_ROWS`
    rows, when the KL weight `beta` is above `DEFAULT_BETA`; else none. `train_model`'s note
    and `evaluate`'s findings name the refit at `DEFAULT_BETA` for them."""
    if beta is None or beta <= DEFAULT_BETA:
        return {}
    return {c: int(n) for c, n in class_rows.items() if 0 < n < SMALL_CLASS_ROWS}


def class_weights(counts: Sequence[int], power: float,
                  min_rows: int = CLASS_BALANCE_MIN_ROWS) -> list[float] | None:
    """Per-class weights of the rows' training-loss terms: ``(1 / frequency) ** power``,
    scaled so that the mean weight over the rows is 1 (the learning rate keeps its meaning).

    0 (or one class) gives None: every row alike. 1 gives every class the same total weight,
    as scikit-learn's ``class_weight="balanced"``; in between, rare classes count for more
    than their rows but less than the majority. The decoder then spends more of its capacity
    on the classes an oversampler generates. A class with fewer than `min_rows` rows is
    weighted as one with `min_rows` (its rows are too few to model more closely).

    Example:
        >>> [round(w, 3) for w in class_weights([300, 100], 1.0)]
        [0.667, 2.0]
        >>> [round(w, 3) for w in class_weights([300, 10], 1.0)]  # 10 rows weigh as 50
        [0.861, 5.167]
    """
    n = np.maximum(np.asarray(counts, float), 1.0)
    if float(power) == 0.0 or len(n) < 2:
        return None
    # n.sum() / (k * n) as before the floor: classes above it get bit-identical weights
    w = (n.sum() / (len(n) * np.maximum(n, float(min_rows)))) ** float(power)
    return (w * n.sum() / (w * n).sum()).tolist()
