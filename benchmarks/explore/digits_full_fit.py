"""Digits fitted on all bundled rows: C2ST and per-class pixel shares at 0 and 16 with the
defaults, with the whole bank (`bank_keep` 1.0) and trained to 300 epochs (patience 1000).

    .venv/bin/python benchmarks/explore/digits_full_fit.py

One-off exploration behind benchmarks/results/quality.md, session 7 (not part of the library).
"""
import pathlib
import sys

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
import utility as u

t = pq.read_table(str(pathlib.Path(__file__).resolve().parents[2] / 'examples' / 'data' / 'digits_longtail.parquet'))
y = np.asarray(t.column('label'))
def img(tab): return np.asarray(tab.column('image').combine_chunks().flatten()).reshape(tab.num_rows, 64).astype(float)
def stats(tab, c):
    lab = np.asarray(tab.column('label'))
    x = img(tab)[lab == c]
    return f"n={len(x):3d} mean={x.mean():.2f} zero={np.mean(x==0):.2f} sixteen={np.mean(x==16):.3f} rowsd={x.std(1).mean():.2f}"
for name, kw in (("full", {}), ("full_bank1", {"bank_keep": 1.0}), ("full_e300", {"patience": 1000})):
    art, synth, sec = u.run_vae(t, 'label', 0, kw)
    print(name, 'epochs', art.config['metrics']['epochs_run'], 'c2st', round(u.c2st_class_matched(art.encoding, t, synth, 'label', 0), 3), flush=True)
    if name == "full":
        for c in range(1, 10):
            print('  class', c, 'real', stats(t, c), '| syn', stats(synth, c))
