"""digits_longtail: image means vs sampled pixels, with and without candidates.

    .venv/bin/python benchmarks/explore/digits.py 0 ['{"bank_keep": 1.0}']

One-off exploration behind benchmarks/results/quality.md (not part of the library).
"""
import json
import sys

from _common import generate, scores, split

from vae_augment.api import fit

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
sp = split("digits_longtail", seed)
art = fit(sp.train, label=sp.label, seed=seed, **json.loads(sys.argv[2] if len(sys.argv) > 2 else "{}"))
m = art.model
print(art.config["metrics"]["epochs_run"], "epochs")


def run(name, tensor_mean=True, k=None):
    if k is not None:
        m.candidates = k
    synth = generate(m, art.encoding, sp.need, seed, tensor_mean=tensor_mean)
    print(f"s{seed} {name:12s}", scores(sp, synth), flush=True)


run("default")
run("k1", k=1)
run("sample", tensor_mean=False, k=4)
run("sample_k1", tensor_mean=False, k=1)
