"""Per-feature likelihood heads from `tfp.distributions`, used as plain TF math.

The decoder emits raw parameter tensors (layers never return distribution objects); these
functions build the `tfd` distributions, score targets (`log_prob`) and draw samples with
stateless seeds. Parameters arrive in float32 (the head layers are float32 under mixed
precision) and are cast again here to be safe.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

__all__ = [
    "tfd",
    "MIN_SCALE",
    "normal_scale",
    "gaussian",
    "numeric_distribution",
    "numeric_sample",
    "kl_gaussian",
    "feature_log_prob",
    "sample_features",
    "categorical_sample",
    "beta_binomial",
    "beta_binomial_sample",
    "binomial_sample",
]

MIN_SCALE = 1e-2


def normal_scale(raw: tf.Tensor) -> tf.Tensor:
    return tf.math.softplus(tf.cast(raw, tf.float32)) + MIN_SCALE


def gaussian(loc: tf.Tensor, raw_scale: tf.Tensor) -> tfd.Normal:
    """A diagonal Gaussian (batch shape [B, d]) from a location and an unconstrained scale."""
    return tfd.Normal(loc=tf.cast(loc, tf.float32), scale=normal_scale(raw_scale))


def kl_gaussian(q: tfd.Normal, p: tfd.Normal) -> tf.Tensor:
    """KL(q || p) per latent dimension, [B, d], via `tfd.kl_divergence`."""
    return tfd.kl_divergence(q, p)


def numeric_distribution(params: Mapping[str, tf.Tensor]) -> tfd.Distribution:
    """The numeric columns' likelihood, batch shape [B, n_num], on the quantile-normal scale.

    A diagonal Gaussian, or with ``num_logits`` in `params` (locations, scales and logits
    of shape [B, n_num, K]) a mixture of K Gaussians per column
    (`tfd.MixtureSameFamily`): given z a column can then sit on one of several values
    (hpc's `iterations` is 20, 50, 100 or 200) instead of being smeared between them.
    """
    if "num_logits" not in params:
        return gaussian(params["num_loc"], params["num_scale"])
    return tfd.MixtureSameFamily(
        mixture_distribution=tfd.Categorical(logits=tf.cast(params["num_logits"], tf.float32)),
        components_distribution=gaussian(params["num_loc"], params["num_scale"]),
    )


def numeric_sample(params: Mapping[str, tf.Tensor], seed: tf.Tensor) -> tf.Tensor:
    """One draw per numeric column ([B, n_num] float32) with a stateless `seed`.

    A mixture draws its component by the Gumbel-max trick (`categorical_sample`, with the
    seed folded), then the component's Gaussian with `seed` itself, so one-component
    models draw exactly what they drew before mixtures existed.
    """
    if "num_logits" not in params:
        return gaussian(params["num_loc"], params["num_scale"]).sample(seed=seed)
    logits = tf.cast(params["num_logits"], tf.float32)
    k = tf.shape(logits)[-1]
    comp = categorical_sample(tf.reshape(logits, [-1, k]),
                              tf.random.experimental.stateless_fold_in(seed, 1))
    comp = tf.reshape(comp, tf.shape(logits)[:-1])
    loc = tf.gather(tf.cast(params["num_loc"], tf.float32), comp, batch_dims=2)
    raw = tf.gather(params["num_scale"], comp, batch_dims=2)
    eps = tf.random.stateless_normal(tf.shape(loc), seed=seed)
    return loc + normal_scale(raw) * eps


def _null_mask(nulls: tf.Tensor | None, idx: list[int], batch: tf.Tensor) -> tf.Tensor:
    """[B, len(idx)] float mask, 1 where the column is null (idx -1: never null)."""
    if nulls is None or not any(i >= 0 for i in idx):
        return tf.zeros([batch, len(idx)], tf.float32)
    padded = tf.concat([tf.cast(nulls, tf.float32), tf.zeros([batch, 1], tf.float32)], axis=1)
    n_null = padded.shape[1] - 1
    gather = [i if i >= 0 else n_null for i in idx]
    return tf.gather(padded, gather, axis=1)


def absent_numeric(layout: Mapping[str, Any], nulls: tf.Tensor | None, batch) -> tf.Tensor:
    """[B, n_num] float mask, 1 where a numeric column's value is not on the quantile-normal
    scale: the column is null, or holds its spike (layout ``num_spike_idx``)."""
    mask = _null_mask(nulls, layout["num_null_idx"], batch)
    if "num_spike_idx" in layout:
        mask = tf.maximum(mask, _null_mask(nulls, layout["num_spike_idx"], batch))
    return mask


def dequantize_numeric(
    layout: Mapping[str, Any], x: Mapping[str, tf.Tensor], table: np.ndarray, seed
) -> tf.Tensor:
    """Encoded numerics `x["num"]` with each tied value spread uniformly over its quantile
    interval (uniform dequantization), the rest unchanged.

    `Encoding.encode` maps a value that fills several quantile knots to the midpoint of its
    probability interval; `table` is `Encoding.tie_halfwidths()`: [n_num, 2 K - 1], a tied
    value's half-width at twice its midpoint's knot position. Each such entry moves to
    ``Φ⁻¹(ε + (1 - 2ε) (p + u h))``, u ~ U(-1, 1) drawn from the stateless `seed`; nulls'
    placeholders (and spike indicators' rows) and untied values keep their values. Decoding
    maps the whole interval back to the value, so training on these points fits a density
    whose mass over the interval is the value's probability, instead of a spike the Gaussian
    heads cannot represent. K is per column with spike indicators (layout ``num_knots``).
    """
    from vae_augment.encoding import PROBIT_EPS

    v = tf.cast(x["num"], tf.float32)
    n_num = int(table.shape[0])
    width = int(table.shape[1])
    k = np.asarray(layout.get("num_knots", [(width + 1) // 2] * n_num), np.float32)
    p = (0.5 * tf.math.erfc(-v / np.sqrt(2.0)) - PROBIT_EPS) / (1.0 - 2.0 * PROBIT_EPS)
    g = 2.0 * p * (k - 1)
    m = tf.clip_by_value(tf.round(g), 0.0, width - 1.0)
    offsets = tf.constant(np.arange(n_num, dtype=np.int32) * width)
    half = tf.gather(tf.constant(table.reshape(-1), tf.float32), tf.cast(m, tf.int32) + offsets)
    # a tie's midpoint lands on an integer of g; the nearest untied value's g is 1 away
    keep = tf.abs(g - m) < 0.25
    if any(i >= 0 for i in layout["num_null_idx"] + layout.get("num_spike_idx", [])):
        keep = tf.logical_and(keep, absent_numeric(layout, x.get("nulls"), tf.shape(v)[0]) < 0.5)
    half = tf.where(keep, half, 0.0)
    u = tf.random.stateless_uniform(tf.shape(v), seed=seed, minval=-1.0, maxval=1.0)
    q = tf.clip_by_value(m / (2.0 * (k - 1)) + u * half, 0.0, 1.0)
    spread = tf.math.ndtri(PROBIT_EPS + (1.0 - 2.0 * PROBIT_EPS) * q)
    return tf.where(half > 0.0, spread, v)


def feature_log_prob(
    layout: Mapping[str, Any], params: Mapping[str, tf.Tensor], x: Mapping[str, tf.Tensor]
) -> dict[str, tf.Tensor]:
    """Log-likelihood of the encoded targets `x` per row, one [B] tensor per feature group."""
    batch = tf.shape(x["y"])[0]
    out: dict[str, tf.Tensor] = {}
    nulls = x.get("nulls")
    if layout["n_num"]:
        lp = numeric_distribution(params).log_prob(tf.cast(x["num"], tf.float32))
        present = 1.0 - absent_numeric(layout, nulls, batch)
        out["num"] = tf.reduce_sum(lp * present, axis=1)
    if layout["n_null"]:
        dist = tfd.Bernoulli(logits=tf.cast(params["null_logits"], tf.float32), dtype=tf.float32)
        out["nulls"] = tf.reduce_sum(dist.log_prob(tf.cast(nulls, tf.float32)), axis=1)
    if layout["cat_sizes"]:
        cat = tf.cast(x["cat"], tf.int32)
        logits = tf.cast(params["cat_logits"], tf.float32)
        total = 0.0
        # one Categorical per size over all the columns of that size, not one per column: a
        # table of 300 flags traced 300 distributions into every training and scoring graph
        for size, columns, slots in _cat_groups(tuple(layout["cat_sizes"])):
            group = tf.reshape(tf.gather(logits, slots, axis=1), [-1, len(columns), size])
            lp = tfd.Categorical(logits=group).log_prob(tf.gather(cat, columns, axis=1))
            total += tf.reduce_sum(lp, axis=1)
        out["cat"] = total
    for i, t in enumerate(layout["tensors"]):
        target = tf.cast(x[f"tensor_{i}"], tf.float32)
        raw = tf.cast(params[f"tensor_{i}"], tf.float32)
        if t["likelihood"] in _COUNT_HEADS:
            n = float(t["total_count"])
            counts = tf.round(tf.clip_by_value(target, 0.0, 1.0) * n)
            lp = _COUNT_HEADS[t["likelihood"]][0](raw, n).log_prob(counts)
        elif t["likelihood"] == "continuous_bernoulli":
            target = tf.clip_by_value(target, 1e-4, 1.0 - 1e-4)
            lp = tfd.ContinuousBernoulli(logits=raw).log_prob(target)
        else:
            loc, scale = tf.split(raw, 2, axis=-1)
            lp = gaussian(loc, scale).log_prob(target)
        lp = tf.reduce_sum(tf.reshape(lp, [batch, -1]), axis=1)
        null_idx = layout["tensor_null_idx"][i]
        if null_idx >= 0:
            lp = lp * (1.0 - tf.cast(nulls[:, null_idx], tf.float32))
        out[f"tensor_{i}"] = lp
    return out


@functools.lru_cache(maxsize=64)
def _cat_groups(sizes: tuple[int, ...]) -> list[tuple[int, list[int], list[int]]]:
    """The categorical columns by number of categories: (size, column positions, their
    logits' positions in the concatenated ``cat_logits``, column by column)."""
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
    groups: dict[int, list[int]] = {}
    for j, n in enumerate(sizes):
        groups.setdefault(int(n), []).append(j)
    return [(n, cols, [int(starts[j]) + k for j in cols for k in range(n)])
            for n, cols in groups.items()]


def _split_cat(logits: tf.Tensor, sizes: list[int]) -> list[tf.Tensor]:
    return tf.split(tf.cast(logits, tf.float32), sizes, axis=1)


def categorical_sample(logits: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """One draw per row from `tfd.Categorical(logits)`, by the Gumbel-max trick.

    Same distribution as `tfd.Categorical(logits).sample(seed=seed)`, but built on
    `stateless_uniform`, whose values do not depend on how TensorFlow splits the batch over
    intra-op threads (`stateless_categorical`, which TFP uses, gave different rows on 1, 2 and
    4 threads), so a block's rows are the same on every machine.
    """
    logits = tf.cast(logits, tf.float32)
    tiny = np.finfo(np.float32).tiny
    u = tf.random.stateless_uniform(tf.shape(logits), seed=seed, minval=tiny, maxval=1.0)
    return tf.argmax(logits - tf.math.log(-tf.math.log(u)), axis=-1, output_type=tf.int32)


# up to this many trials a Binomial draw is an exact sum of Bernoulli draws
EXACT_BINOMIAL_TRIALS = 32


# A beta-binomial head's concentration at initialisation is softplus(0) times this (5.5):
# close to a Binomial's dispersion, free to learn a U shape (saturated strokes on a blank
# background) where one Binomial per pixel cannot have both.
BETA_CONCENTRATION = 8.0


def beta_binomial(raw: tf.Tensor, total_count: float) -> tfd.BetaBinomial:
    """An overdispersed count head. `raw` holds, per element, the logit of the mean success
    probability and an unconstrained concentration, split on the last axis like a Gaussian
    tensor head's location and scale."""
    logit, conc = tf.split(tf.cast(raw, tf.float32), 2, axis=-1)
    mean = tf.math.sigmoid(logit)
    kappa = BETA_CONCENTRATION * tf.math.softplus(conc) + 1e-3
    return tfd.BetaBinomial(total_count=total_count, concentration1=mean * kappa,
                            concentration0=(1.0 - mean) * kappa)


# Marsaglia-Tsang proposals per Gamma draw: each is accepted with probability >= 0.95 (shape
# >= 1), so all of them fail with probability < 1e-7 (that element then takes d, near the
# mode).
GAMMA_PROPOSALS = 6


def _log_gamma_sample(alpha: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """log of one Gamma(alpha, 1) draw per element, stateless and XLA-compilable
    (`tf.random.stateless_gamma` has no XLA kernel).

    Marsaglia and Tsang's method on Gamma(alpha + 1): `GAMMA_PROPOSALS` proposals, one
    alpha-sized tensor at a time (a 28 x 28 image block holds one set, not six), the first
    accepted one kept; then the boost ``Gamma(alpha) = Gamma(alpha + 1) * U ** (1 / alpha)``
    in log space, so shapes far below 1 (U-shaped pixels) do not underflow to 0.
    """
    seed = tf.cast(seed, tf.int32)
    tiny = np.finfo(np.float32).tiny
    d = alpha + (1.0 - 1.0 / 3.0)
    c = tf.math.rsqrt(9.0 * d)
    log_v = tf.zeros_like(alpha)
    done = tf.zeros(tf.shape(alpha), tf.bool)
    for j in range(GAMMA_PROPOSALS):
        pair = tf.random.experimental.stateless_split(
            tf.random.experimental.stateless_fold_in(seed, j), num=2)
        x = tf.random.stateless_normal(tf.shape(alpha), seed=pair[0])
        u = tf.random.stateless_uniform(tf.shape(alpha), seed=pair[1], minval=tiny, maxval=1.0)
        v = (1.0 + c * x) ** 3
        lv = tf.math.log(tf.maximum(v, tiny))
        ok = (v > 0.0) & (tf.math.log(u) < 0.5 * x * x + d - d * v + d * lv)
        log_v = tf.where(ok & ~done, lv, log_v)
        done = done | ok
    boost = tf.random.stateless_uniform(
        tf.shape(alpha), seed=tf.random.experimental.stateless_fold_in(seed, GAMMA_PROPOSALS),
        minval=tiny, maxval=1.0)
    return tf.math.log(d) + log_v + tf.math.log(boost) / alpha


def beta_binomial_sample(raw: tf.Tensor, total_count: float, seed: tf.Tensor) -> tf.Tensor:
    """One draw per element of `beta_binomial` (float32 counts), stateless and
    XLA-compilable: p from the Beta, as the logit ``log G1 - log G0`` of two Gamma draws
    (`_log_gamma_sample`), then `binomial_sample` given p."""
    seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int32), num=3)
    dist = beta_binomial(raw, total_count)
    logits = (_log_gamma_sample(dist.concentration1, seeds[0])
              - _log_gamma_sample(dist.concentration0, seeds[1]))
    logits = tf.where(tf.math.is_nan(logits), tf.zeros_like(logits), logits)  # both -inf
    return binomial_sample(logits, total_count, seeds[2])


def binomial_sample(logits: tf.Tensor, total_count: float, seed: tf.Tensor) -> tf.Tensor:
    """One draw per element from ``tfd.Binomial(total_count, logits=logits)`` (float32 counts).

    Built on `stateless_uniform`, like `categorical_sample`, so a block's draws do not depend
    on how TensorFlow threads the batch. Up to `EXACT_BINOMIAL_TRIALS` trials the draw is the
    exact sum of Bernoulli draws; above that it is the Gaussian approximation with the same
    mean and variance, rounded and clipped to [0, total_count] (a 255-step image costs one
    normal draw per pixel, not 255 uniforms).
    """
    p = tf.math.sigmoid(tf.cast(logits, tf.float32))
    n = int(round(total_count))
    if n <= EXACT_BINOMIAL_TRIALS:  # one uniform per trial, a pixel-sized tensor at a time
        count = tf.zeros_like(p)
        for trial in range(n):
            u = tf.random.stateless_uniform(
                tf.shape(p), seed=tf.random.experimental.stateless_fold_in(seed, trial))
            count += tf.cast(u < p, tf.float32)
        return count
    eps = tf.random.stateless_normal(tf.shape(p), seed=seed)
    draw = tf.round(n * p + tf.sqrt(n * p * (1.0 - p)) * eps)
    return tf.clip_by_value(draw, 0.0, float(n))


# count heads of integer tensors: likelihood -> (distribution of (raw, n), draw of (raw, n, seed))
_COUNT_HEADS = {
    "binomial": (lambda raw, n: tfd.Binomial(total_count=n, logits=raw), binomial_sample),
    "beta_binomial": (beta_binomial, beta_binomial_sample),
}


def sample_features(
    layout: Mapping[str, Any],
    params: Mapping[str, tf.Tensor],
    seed: tf.Tensor,
    *,
    tensor_mean: bool | None = None,
) -> dict[str, tf.Tensor]:
    """Draws encoded features from the likelihood heads with a stateless `seed` (shape [2]).

    `tensor_mean` chooses between a tensor column's likelihood mean and a draw from it. None
    (the default) draws Binomial (integer image) elements: a draw puts a pixel on the
    background or a saturated stroke where the data has them, which the mean (a grey in
    between) does not (digits: C2ST 0.77 drawn vs 0.97 as means). Gaussian elements are drawn
    where the layout says so (``"draw"``: embeddings, see `Encoding.with_float_tensors`) and
    are the mean otherwise (images, whose per-pixel noise would only speckle them), as are
    continuous Bernoulli ones (models of earlier versions).
    """
    seeds = tf.random.experimental.stateless_split(seed, num=4 + len(layout["tensors"]))
    out: dict[str, tf.Tensor] = {}
    if layout["n_num"]:
        out["num"] = numeric_sample(params, seeds[0])
    if layout["n_null"]:
        out["nulls"] = tfd.Bernoulli(
            logits=tf.cast(params["null_logits"], tf.float32), dtype=tf.float32
        ).sample(seed=seeds[1])
    if layout["cat_sizes"]:
        cat_seeds = tf.random.experimental.stateless_split(seeds[2], num=len(layout["cat_sizes"]))
        codes = [
            categorical_sample(logits, cat_seeds[j])
            for j, logits in enumerate(_split_cat(params["cat_logits"], layout["cat_sizes"]))
        ]
        out["cat"] = tf.stack(codes, axis=1)
    for i, t in enumerate(layout["tensors"]):
        raw = tf.cast(params[f"tensor_{i}"], tf.float32)
        if t["likelihood"] in _COUNT_HEADS:
            n = float(t["total_count"])
            dist, draw = _COUNT_HEADS[t["likelihood"]]
            counts = dist(raw, n).mean() if tensor_mean else draw(raw, n, seeds[4 + i])
            out[f"tensor_{i}"] = counts / n
            continue
        if t["likelihood"] == "continuous_bernoulli":
            dist = tfd.ContinuousBernoulli(logits=raw)
        else:
            loc, scale = tf.split(raw, 2, axis=-1)
            dist = gaussian(loc, scale)
        use_mean = not t.get("draw", False) if tensor_mean is None else tensor_mean
        out[f"tensor_{i}"] = dist.mean() if use_mean else dist.sample(seed=seeds[4 + i])
    return out
