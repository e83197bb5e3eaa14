"""`Encoding.decode_tf` cost: an older checkout's encoding against this one's, and with spike
indicators, on the bundled churn table (65,536 generated rows, 30 alternated rounds).

    git worktree add /tmp/old 392da03
    .venv/bin/python benchmarks/explore/decode_cost.py /tmp/old
"""
import importlib.util
import statistics
import sys
import time

import numpy as np
import pyarrow.parquet as pq
import tensorflow as tf

from vae_augment.preparation import fit_encoding

spec = importlib.util.spec_from_file_location("old_encoding", sys.argv[1] + "/vae_augment/encoding.py")
old = importlib.util.module_from_spec(spec)
spec.loader.exec_module(old)
t = pq.read_table("examples/data/churn.parquet")
enc_new = fit_encoding(t, "churn")
enc_old = old.Encoding.from_json(enc_new.to_json())
enc_spk = enc_new.with_spikes(0.25)
n = 65536
rng = np.random.default_rng(0)


def gen(e):
    lay = e.layout()
    return {"num": tf.constant(rng.normal(size=(n, lay["n_num"])).astype(np.float32)),
            "nulls": tf.constant((rng.random((n, lay["n_null"])) < 0.5).astype(np.float32)),
            "cat": tf.constant(np.zeros((n, len(lay["cat_sizes"])), np.int32))}


fns = {}
for name, e in (("new", enc_new), ("old", enc_old), ("new+spike", enc_spk)):
    g = gen(e)
    f = tf.function(lambda g, e=e: {k: v[0] for k, v in e.decode_tf(g).items()})
    f(g)
    fns[name] = (f, g)
g0 = fns["old"][1]
a = fns["old"][0](g0)
b = fns["new"][0](g0)
print("same values old/new:", all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a))
times = {k: [] for k in fns}
for _ in range(30):
    for k, (f, g) in fns.items():
        t0 = time.perf_counter()
        out = f(g)
        for v in out.values():
            v.numpy()
        times[k].append(time.perf_counter() - t0)
for k, v in times.items():
    print(f"{k}: median {statistics.median(v)*1e3:.2f} ms per {n} rows ({n/statistics.median(v)/1e6:.2f}M rows/s)")
