"""Distribution of the stored posteriors' class margins per class (split seed 0, no pruning):
the scale bank pruning works on.

    .venv/bin/python benchmarks/explore/bank_scores.py churn hpc credit

One-off exploration behind benchmarks/results/quality.md (not part of the library).
"""
# ruff: noqa
import os
import sys

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, ".."))
import numpy as np, pyarrow as pa, tensorflow as tf
import utility as U
from sklearn.model_selection import train_test_split
from vae_augment import distributions as D
from vae_augment.api import fit
for ds in sys.argv[1:]:
    label=U.DATASETS[ds]; table=U.load(ds); y_all=np.asarray(table.column(label).to_pylist())
    tr,te=train_test_split(np.arange(table.num_rows),test_size=0.3,stratify=y_all,random_state=0)
    art=fit(table.take(pa.array(tr)),label=label,seed=0,bank_keep=1.0); m=art.model
    for c in range(m.n_classes):
        f=int(m.bank_filled.numpy()[c]); M=8
        loc=np.repeat(m.bank_loc.numpy()[c,:f],M,0); raw=np.repeat(m.bank_scale.numpy()[c,:f],M,0)
        s=tf.random.experimental.stateless_split(tf.constant([0,c],tf.int32),2)
        z=loc+D.normal_scale(raw)*tf.random.stateless_normal(loc.shape,seed=s[0]); y=tf.fill([f*M],c)
        p=m.decode_params(z,y); out=D.sample_features(m.layout,p,s[1])
        sc=m.class_margin(out,z,y,p).numpy().reshape(f,M).mean(1)
        q=np.quantile(sc,[0.1,0.25,0.5,0.75,0.9])
        print(ds, art.encoding.classes[c], art.encoding.class_counts[art.encoding.classes[c]], "frac<0 %.2f frac<-2 %.2f"%((sc<0).mean(),(sc<-2).mean()), "q10..90", np.round(q,1), flush=True)
