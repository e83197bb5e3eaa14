"""Is the digits C2ST gap (all bundled rows 0.970 vs the protocol's 0.84) the detector's sample
size? Scores saved synthetic rows (SYNTH, from a fit on all rows) against all real rows and
against a stratified 70 % of them, for split seeds 0-2.

    .venv/bin/python benchmarks/explore/digits_full_detector.py SYNTH.parquet

One-off exploration behind benchmarks/results/quality.md, session 7 (not part of the library).
"""
import pathlib
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.model_selection import train_test_split

from vae_augment.detection import c2st_auc
from vae_augment.preparation import fit_encoding

t = pq.read_table(str(pathlib.Path(__file__).resolve().parents[2] / 'examples' / 'data' / 'digits_longtail.parquet'))
s = pq.read_table(sys.argv[1])
enc = fit_encoding(t, 'label')
y = np.asarray(t.column('label'))
for seed in (0, 1, 2):
    tr, _ = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=seed)
    print(seed, 'full real', round(c2st_auc(enc, t, s, seed=seed), 3), ' 70% of real', round(c2st_auc(enc, t.take(pa.array(tr)), s, seed=seed), 3))
