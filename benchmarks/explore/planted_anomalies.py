"""Anomaly scores against planted anomalies (session 21's scoring audit), with the numeric
encoding clipped to the training range (before session 21) and extrapolated past it (now),
from one fit, in one process:

    .venv/bin/python benchmarks/explore/planted_anomalies.py [SEED]

churn from ../shared is split 75/25 (stratified, seed 0); a model with the library defaults
(plus `number_customer_service_calls` as a number, so that held-out counts are not unseen
categories) is fitted on the 75 %; 30 held-out rows each get one kind of anomaly:
- extreme: day minutes x 6 + 900 (and the matching charge), past the training range;
- combo: no voice-mail plan but 45 voice-mail messages;
- flip: the label flipped;
- charge: the four charges of another customer.
Prints the ROC AUC of the ELBO and IWAE (k 32) scores, each kind against the clean rows.
"""
import sys

import _common  # noqa: F401  (import paths)
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

import vae_augment as va
from vae_augment.scoring import row_noise

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 0
t = pq.read_table("../shared/data/churn.parquet")
y = t.column("churn").to_numpy(zero_copy_only=False)
tr, te = train_test_split(np.arange(t.num_rows), test_size=0.25, stratify=y, random_state=0)
train, test = t.take(np.sort(tr)), t.take(np.sort(te))
art = va.fit(train, label="churn", numeric=["number_customer_service_calls"], seed=SEED,
             verbose=0)

rng = np.random.default_rng(1)
n = test.num_rows
cols = {c: test.column(c).to_pylist() for c in test.column_names}
kind = np.array(["clean"] * n, dtype=object)
idx = rng.permutation(n)
ext, combo, flip, charge = idx[:30], idx[30:60], idx[60:90], idx[90:120]
for i in ext:
    cols["total_day_minutes"][i] = cols["total_day_minutes"][i] * 6 + 900.0
    cols["total_day_charge"][i] = round(cols["total_day_minutes"][i] * 0.17, 2)
    kind[i] = "extreme"
for i in combo:
    cols["voice_mail_plan"][i], cols["number_vmail_messages"][i] = "no", 45
    kind[i] = "combo"
for i in flip:
    cols["churn"][i] = "yes" if cols["churn"][i] == "no" else "no"
    kind[i] = "flip"
donors = (charge + rng.integers(1, n, size=len(charge))) % n
for c in ("total_day_charge", "total_eve_charge", "total_night_charge", "total_intl_charge"):
    v = list(cols[c])
    for i, d in zip(charge, donors):
        v[i] = cols[c][d]
    cols[c] = v
kind[charge] = "charge"
planted = pa.table({c: pa.array(cols[c], test.schema.field(c).type) for c in test.column_names},
                   schema=test.schema)

model, enc = art.model, art.encoding
for extrapolate in (False, True):
    x = enc.encode(planted, extrapolate=extrapolate)
    elbo = model.neg_elbo(x).numpy()
    iwae = -model.iw_bound(x, 32, noise=row_noise(x, 0, model.latent_dim)).numpy()
    name = "extrapolated (now)" if extrapolate else "clipped (before)"
    for method, s in (("elbo", elbo), ("iwae k=32", iwae)):
        aucs = {k: roc_auc_score(kind[(kind == k) | (kind == "clean")] == k,
                                 s[(kind == k) | (kind == "clean")])
                for k in ("extreme", "combo", "flip", "charge")}
        print(f"{name:20s} {method:10s} " + "  ".join(f"{k} {v:.3f}" for k, v in aucs.items())
              + f"  all {roc_auc_score(kind != 'clean', s):.3f}")
