"""Benchmark: the class guide's evaluation cost per 8,192 rows on the bundled churn data.

Compares, in one process, the session-4 guide (one tree per class per round, levels picked by
a one-hot matmul) with the current one (one tree per round for two classes, levels picked by
a gather of the transposed features, trees summed by a segment sum), and reports the guide's
held-out log loss for both tree layouts.

    .venv/bin/python benchmarks/guide_eval.py --repeats 30
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def matmul_logits(trees, features):
    """The session-4 evaluation (commit e0d4a2e), kept here as the reference."""
    import tensorflow as tf

    feature, threshold, value = trees["feature"], trees["threshold"], trees["value"]
    n_trees, depth = tf.shape(feature)[0], tf.shape(feature)[1]
    pick = tf.one_hot(tf.reshape(feature, [-1]), tf.shape(features)[1], dtype=tf.float32)
    x = tf.matmul(tf.cast(features, tf.float32), pick, transpose_b=True)
    right = tf.cast(x > tf.reshape(threshold, [1, -1]), tf.float32)
    weights = tf.reshape(tf.pow(2.0, tf.cast(tf.range(depth - 1, -1, -1), tf.float32)), [-1, 1])
    leaf = tf.cast(tf.reshape(tf.matmul(tf.reshape(right, [-1, depth]), weights),
                              [-1, n_trees]), tf.int32)
    flat = leaf + tf.range(n_trees, dtype=tf.int32)[None, :] * tf.shape(value)[1]
    contrib = tf.gather(tf.reshape(value, [-1]), flat)
    to_class = tf.one_hot(trees["tree_class"], tf.shape(trees["baseline"])[0], dtype=tf.float32)
    return tf.matmul(contrib, to_class) + trees["baseline"][None, :]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=os.path.join(HERE, "..", "examples", "data", "churn.parquet"))
    p.add_argument("--label", default="churn")
    p.add_argument("--rows", type=int, default=8192)
    p.add_argument("--repeats", type=int, default=30)
    args = p.parse_args(argv)

    import numpy as np
    import pyarrow.parquet as pq
    import tensorflow as tf
    from sklearn.metrics import log_loss

    from vae_augment import guide as G
    from vae_augment.training import fit_encoding

    table = pq.read_table(args.data)
    enc = fit_encoding(table, args.label)
    arrays = enc.encode(table)
    feats = G.guide_features(enc.layout(), arrays).numpy()
    y = np.asarray(arrays["y"], np.int64)
    n_classes = int(y.max()) + 1
    test = np.random.default_rng(0).permutation(len(y)) < len(y) // 4
    x = tf.constant(np.resize(feats, (args.rows, feats.shape[1])))
    print(f"{args.data}: {len(y)} rows, {feats.shape[1]} guide features, {n_classes} classes; "
          f"100 rounds, depth 6; {args.rows} rows per call, median of {args.repeats}")
    for name, one_tree in (("one tree per class (session 4)", False), ("one tree per round", True)):
        trees = G.fit_guide(feats[~test], y[~test], n_classes, iterations=100, depth=6,
                            binary_one_tree=one_tree)
        tf_trees = {k: tf.constant(v) for k, v in trees.items()}
        p = tf.nn.softmax(G.guide_logits(tf_trees, tf.constant(feats[test]))).numpy()
        loss = log_loss(y[test], p, labels=list(range(n_classes)))
        for how, fn in (("matmul pick (session 4)", matmul_logits), ("gather pick", G.guide_logits)):
            f = tf.function(lambda fn=fn, trees=tf_trees: fn(trees, x))
            f()
            times = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                f().numpy()
                times.append(time.perf_counter() - t)
            print(f"  {name:32s} {trees['feature'].shape[0]:4d} trees, {how:24s}: "
                  f"{1000 * statistics.median(times):6.2f} ms   (held-out log loss {loss:.4f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
