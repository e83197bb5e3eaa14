"""hpc, split seed 0: per-class marginal fit of the synthetic rows (KS for numbers, total
variation for categories), with the defaults or the fit kwargs given as JSON.

    .venv/bin/python benchmarks/explore/hpc_columns.py '{"bank_keep": 1.0}'

One-off exploration behind benchmarks/results/quality.md (not part of the library).
"""
# ruff: noqa
import json
import os
import sys

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, ".."))
import numpy as np, pyarrow as pa
import utility as U
from scipy.stats import ks_2samp
from sklearn.model_selection import train_test_split
ds="hpc"; label=U.DATASETS[ds]; table=U.load(ds)
y_all=np.asarray(table.column(label).to_pylist())
tr,te=train_test_split(np.arange(table.num_rows),test_size=0.3,stratify=y_all,random_state=0)
train=table.take(pa.array(tr))
from vae_augment.api import fit, sample
import json; art=fit(train,label=label,seed=0,**json.loads(sys.argv[1] if len(sys.argv)>1 else "{}"))
synth=sample(art,U.auto_counts(np.asarray(train.column(label).to_pylist())),seed=0)
R=train.to_pandas(); S=synth.to_pandas()
print(R.dtypes.to_dict())
for c in S[label].unique():
    r=R[R[label]==c]; s=S[S[label]==c]
    out=[]
    for col in R.columns:
        if col==label: continue
        if R[col].dtype.kind in "if":
            out.append(f"{col}:KS={ks_2samp(r[col],s[col]).statistic:.2f} uniq r/s={r[col].nunique()}/{s[col].nunique()}")
        else:
            tv=0.5*np.abs(r[col].value_counts(normalize=True).sub(s[col].value_counts(normalize=True),fill_value=0)).sum()
            out.append(f"{col}:TV={tv:.2f}")
    print(c, len(r), len(s), " | ".join(out))
print(R.describe().T[["min","50%","max"]])
