"""The class guide: gradient-boosted oblivious trees that classify real rows, run in TensorFlow.

Generation keeps a synthetic row only when a classifier trained on the *real* training rows
puts it in the class it was drawn for at least as firmly as it puts most real rows of that
class (`ConditionalVAE(guide_quantile=...)`). The decoder's own class margin
(`ConditionalVAE.class_margin`) judges rows by the model that drew them; the guide judges them
by the real data, which is what a downstream classifier learns from. Rows that land in
another class's region are redrawn; the real class overlap is kept, because the floor is a
low quantile of the real rows' own scores (benchmarks/results/quality.md).

The guide is a softmax gradient-boosted ensemble of *oblivious* trees (every node of a level
splits on the same feature and threshold, as in CatBoost). That makes it cheap enough to run
inside `generate` with TF ops on every interface: per tree level, one feature gather and one
compare; per tree, one leaf gather. Two classes take one tree per round, not two. Its arrays
are saved with the model's weights (no pickle in the artifact).
It is fitted with NumPy on a seeded sample of the encoded training rows: numeric columns on
their quantile-normal scale, null indicators, categories (one-hot up to 32 values, else
their codes), flattened small tensors.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import tensorflow as tf

GUIDE_MAX_ROWS = 20_000  # the guide is fitted on at most this many rows (a seeded sample)
GUIDE_MAX_TENSOR_VALUES = 1024  # tensors wider than this in total are not guide features
GUIDE_MAX_ONEHOT = 32  # category columns up to this many values are one-hot features
GUIDE_BINS = 32  # candidate thresholds per feature (quantiles of the fitting rows)
GUIDE_LEARNING_RATE = 0.2
GUIDE_L2 = 1.0
#: the concurrent guide fits (`guide_workers`) may hold about this many bytes of histogram
#: inputs between them
GUIDE_FIT_MEMORY = 1 << 30


def guide_workers(rows: int, features: int, fits: int) -> int:
    """Threads for `fits` independent guide fits of `rows` x `features`: one per usable CPU,
    at most one per fit, and no more than fit in `GUIDE_FIT_MEMORY` (a fit holds about four
    [rows, features] 8-byte arrays at once: the binned cells, their offsets and two
    repeated weights)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    per_fit = 4 * 8 * max(rows, 1) * max(features, 1)
    return max(1, min(cpus, fits, GUIDE_FIT_MEMORY // per_fit))


def guide_width(layout: Mapping[str, Any]) -> int:
    """How many features the guide sees for rows of this layout."""
    return layout["n_num"] + layout["n_null"] + sum(
        _cat_width(size) for size in layout["cat_sizes"]) + sum(_tensor_sizes(layout))


def _cat_width(size: int) -> int:
    """A category column is one-hot up to `GUIDE_MAX_ONEHOT` values, else its code."""
    return size if size <= GUIDE_MAX_ONEHOT else 1


def _tensor_sizes(layout: Mapping[str, Any]) -> list[int]:
    sizes = [int(np.prod(t["shape"])) for t in layout["tensors"]]
    return sizes if sum(sizes) <= GUIDE_MAX_TENSOR_VALUES else [0] * len(sizes)


def guide_features(layout: Mapping[str, Any], x: Mapping[str, Any]) -> tf.Tensor:
    """[B, guide_width] float32 features of encoded rows `x` (model input or `generate`
    output)."""
    parts = []
    if layout["n_num"]:
        parts.append(tf.cast(x["num"], tf.float32))
    if layout["n_null"]:
        parts.append(tf.cast(x["nulls"], tf.float32))
    for j, size in enumerate(layout["cat_sizes"]):
        code = tf.cast(x["cat"], tf.int32)[:, j]
        parts.append(tf.one_hot(code, size, dtype=tf.float32) if size <= GUIDE_MAX_ONEHOT
                     else tf.cast(code, tf.float32)[:, None])
    for i, size in enumerate(_tensor_sizes(layout)):
        if size:
            t = tf.cast(x[f"tensor_{i}"], tf.float32)
            parts.append(tf.reshape(t, [-1, size]))
    if not parts:
        return tf.zeros([tf.shape(x["y"])[0], 0], tf.float32)
    return tf.concat(parts, axis=1)


def trees_per_round(n_classes: int, *, binary_one_tree: bool = True) -> int:
    """Trees the guide grows per boosting round: one per class, but one in all for two
    classes with `binary_one_tree` (class 1's logit boosted against class 0's fixed
    baseline: logistic boosting, the same model class with half the trees to evaluate)."""
    return 1 if binary_one_tree and n_classes == 2 else n_classes


def fit_guide(features: np.ndarray, y: np.ndarray, n_classes: int, *, iterations: int,
              depth: int, seed: int = 0, binary_one_tree: bool = True,
              on_round: Callable[[], None] | None = None) -> dict[str, np.ndarray]:
    """Fits ``iterations`` rounds of softmax boosting (one oblivious tree of `depth` levels
    per class per round; per round one tree in all for two classes, see `trees_per_round`)
    on [N, F] `features` and class indices `y`.

    Returns the arrays `guide_logits` runs: ``feature`` and ``threshold`` ([T, depth], the
    split of each level), ``value`` ([T, 2**depth] leaf values), ``tree_class`` ([T], the
    class logit each tree adds to) and ``baseline`` ([n_classes] log class shares), with
    ``T = iterations * trees_per_round(n_classes)``. A row goes right at a level when its
    feature value is greater than the threshold; its leaf is the binary number of those
    choices. `on_round` is called after each round (a progress bar's update).
    """
    x = np.asarray(features, np.float32)
    y = np.asarray(y, np.int64)
    rng = np.random.default_rng(seed)
    if len(y) > GUIDE_MAX_ROWS:
        keep = np.sort(rng.choice(len(y), GUIDE_MAX_ROWS, replace=False))
        x, y = x[keep], y[keep]
    n, n_feat = x.shape
    per_round = trees_per_round(n_classes, binary_one_tree=binary_one_tree)
    tree_classes = np.arange(n_classes - per_round, n_classes, dtype=np.int32)
    n_trees = iterations * per_round
    out = {
        "feature": np.zeros((n_trees, depth), np.int32),
        "threshold": np.full((n_trees, depth), np.inf, np.float32),  # +inf: always left
        "value": np.zeros((n_trees, 2 ** depth), np.float32),
        "tree_class": np.tile(tree_classes, iterations),
    }
    share = np.bincount(y, minlength=n_classes) / max(n, 1)
    out["baseline"] = np.log(np.maximum(share, 1e-6)).astype(np.float32)
    if n == 0 or n_feat == 0 or np.count_nonzero(share) < 2:
        return out
    # candidate thresholds: per-feature quantiles, and each row's bin under them
    qs = np.quantile(x, np.linspace(0, 1, GUIDE_BINS + 1)[1:-1], axis=0).T  # [F, bins-1]
    edges = [np.unique(q) for q in qs]
    n_bins = max(len(e) for e in edges) + 1
    binned = np.stack([np.searchsorted(e, x[:, f], side="left") for f, e in enumerate(edges)],
                      axis=1).astype(np.int64)  # bin b: edges[b-1] < x <= edges[b]
    onehot = np.eye(n_classes, dtype=np.float64)[y]
    logits = np.repeat(out["baseline"][None].astype(np.float64), n, 0)
    col = np.arange(n_feat)[None, :] * n_bins
    cells = col + binned  # [N, F]: each (row, feature)'s bin, offset by its feature
    cell = cells.ravel()
    # rows at or under each threshold: a split sending all rows one way is void
    rows_left = np.cumsum(np.bincount(cell, minlength=n_feat * n_bins)
                          .reshape(n_feat, n_bins), 1)[:, :-1]
    # thresholds no tree may use: past a feature's edges, or sending every row one way
    void = (rows_left == 0) | (rows_left == n) | (
        np.arange(n_bins - 1)[None, :] >= np.array([len(e) for e in edges])[:, None])
    for it in range(iterations):
        p = np.exp(logits - logits.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        for k, c in enumerate(tree_classes):
            t = it * per_round + k
            g, h = p[:, c] - onehot[:, c], np.maximum(p[:, c] * (1 - p[:, c]), 1e-6)
            leaf, levels = np.zeros(n, np.int64), 0
            for level in range(depth):
                n_leaf = 2 ** level
                # gradient and hessian sums per (leaf, feature, bin). Below the root only the
                # rows of left children (even leaves) are counted: a right child's sums are
                # its parent's minus its left sibling's (the histogram subtraction trick)
                if level == 0:
                    size, shape = n_feat * n_bins, (1, n_feat, n_bins)
                    gs = np.bincount(cell, np.repeat(g, n_feat), size).reshape(shape)
                    hs = np.bincount(cell, np.repeat(h, n_feat), size).reshape(shape)
                else:
                    rows = np.flatnonzero((leaf & 1) == 0)
                    idx = (cells[rows] + ((leaf[rows] >> 1) * (n_feat * n_bins))[:, None]).ravel()
                    size = (n_leaf // 2) * n_feat * n_bins
                    shape = (n_leaf // 2, n_feat, n_bins)
                    g_left = np.bincount(idx, np.repeat(g[rows], n_feat), size).reshape(shape)
                    h_left = np.bincount(idx, np.repeat(h[rows], n_feat), size).reshape(shape)
                    gs = np.stack([g_left, gs - g_left], 1).reshape(n_leaf, n_feat, n_bins)
                    hs = np.stack([h_left, hs - h_left], 1).reshape(n_leaf, n_feat, n_bins)
                gl, hl = np.cumsum(gs, 2)[..., :-1], np.cumsum(hs, 2)[..., :-1]
                gt, ht = gs.sum(2, keepdims=True), hs.sum(2, keepdims=True)
                gain = (gl ** 2 / (hl + GUIDE_L2) + (gt - gl) ** 2 / (ht - hl + GUIDE_L2)
                        - gt ** 2 / (ht + GUIDE_L2)).sum(0)  # [F, bins - 1] over no split
                gain[void | ~(gain > 1e-12)] = -np.inf  # or gaining nothing
                f, b = np.unravel_index(int(np.argmax(gain)), gain.shape)
                if not np.isfinite(gain[f, b]):
                    break  # no feature splits: the remaining levels send every row left
                out["feature"][t, level] = f
                out["threshold"][t, level] = edges[f][b]
                leaf, levels = 2 * leaf + (binned[:, f] > b), levels + 1
            leaf <<= depth - levels
            gsum = np.bincount(leaf, g, 2 ** depth)
            hsum = np.bincount(leaf, h, 2 ** depth)
            value = -GUIDE_LEARNING_RATE * gsum / (hsum + GUIDE_L2)
            out["value"][t] = value
            logits[:, c] += value[leaf]
        if on_round is not None:
            on_round()
    return out


def class_proba(trees: Mapping[str, np.ndarray], features: np.ndarray, y: np.ndarray,
                batch: int = 8192) -> np.ndarray:
    """[N] probability the guide arrays `trees` give each row of `features` of class `y`."""
    tf_trees = {k: tf.constant(v) for k, v in trees.items()}
    out = []
    for i in range(0, len(y), batch):
        p = tf.nn.softmax(guide_logits(tf_trees, tf.constant(features[i:i + batch], tf.float32)))
        out.append(np.take_along_axis(p.numpy(), np.asarray(y[i:i + batch])[:, None], 1)[:, 0])
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def guide_logits(trees: Mapping[str, Any], features: tf.Tensor) -> tf.Tensor:
    """[B, n_classes] class logits of the guide arrays `trees` for [B, F] `features`.

    Static shapes only (XLA and TPU compile it) and exact on every device: each level's
    feature value is a row gather of the transposed features and the trees add up by a
    segment sum, not by matmuls (which TF32 would round on a GPU)."""
    feature, threshold, value = trees["feature"], trees["threshold"], trees["value"]
    n_trees, depth = tf.shape(feature)[0], tf.shape(feature)[1]
    x = tf.gather(tf.transpose(tf.cast(features, tf.float32)), tf.reshape(feature, [-1]))
    right = tf.cast(x > tf.reshape(threshold, [-1, 1]), tf.float32)  # [T * depth, B]
    level = tf.pow(2.0, tf.cast(tf.range(depth - 1, -1, -1), tf.float32))
    leaf = tf.cast(tf.reduce_sum(tf.reshape(right, [n_trees, depth, -1]) * level[None, :, None],
                                 axis=1), tf.int32)  # [T, B]: the binary number of choices
    flat = leaf + tf.range(n_trees, dtype=tf.int32)[:, None] * tf.shape(value)[1]
    contrib = tf.gather(tf.reshape(value, [-1]), flat)  # [T, B]
    per_class = tf.math.unsorted_segment_sum(contrib, trees["tree_class"],
                                             tf.shape(trees["baseline"])[0])  # [C, B]
    return tf.transpose(per_class) + trees["baseline"][None, :]
