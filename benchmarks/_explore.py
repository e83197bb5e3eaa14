"""Exploration behind benchmarks/results/quality.md: train once, compare sampling variants.

One split seed of one dataset, the protocol of benchmarks/utility.py; each variant draws the
`auto` counts of synthetic rows a different way and reports C2ST, LR and HGB scores:
``default`` (the model's prior, likelihood samples), ``mean`` (numeric likelihood means),
``t07``/``t05`` (prior temperature), ``post`` (z from a training row's posterior),
``*_n05`` (numeric noise x0.5), ``temp<x>`` (the product's `generate` at temperature x).
``--beta`` multiplies the KL weight during training through a callback (on top of the model's
own `beta`, which was 1.0 when the table in quality.md was measured).

    .venv/bin/python benchmarks/_explore.py --dataset churn --beta 0.3 --variants default,post
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import utility as U  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--dataset", default="churn")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vae-json", default="{}")
    p.add_argument("--beta", type=float, default=1.0)
    p.add_argument("--variants", default="default,mean,t07,t05,post,post_mean")
    args = p.parse_args()
    import tensorflow as tf
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline

    from vae_augment import distributions as D
    from vae_augment.api import fit
    from vae_augment.balancing import samples_to_generate

    label = U.DATASETS[args.dataset]
    table = U.load(args.dataset)
    y_all = np.asarray(table.column(label).to_pylist())
    values, counts = np.unique(y_all, return_counts=True)
    minority = values[np.argmin(counts)]
    binary = len(values) == 2
    tr, te = train_test_split(np.arange(table.num_rows), test_size=0.3, stratify=y_all,
                              random_state=args.seed)
    train, test = table.take(pa.array(tr)), table.take(pa.array(te))
    x_tr, y_tr = U.to_frame(train, label)
    x_te, y_te = U.to_frame(test, label)
    x_tr, x_te = U._cat_to_object(x_tr), U._cat_to_object(x_te)
    t0 = time.perf_counter()
    import keras

    class Beta(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.model.kl_weight.assign(self.model.kl_weight * args.beta)

    art = fit(train, label=label, seed=args.seed, callbacks=[Beta()], **json.loads(args.vae_json))
    print("fit", round(time.perf_counter() - t0, 1), "s", art.config["metrics"], flush=True)
    model, enc = art.model, art.encoding
    need = {c: n for c, n in samples_to_generate(dict(enc.class_counts), "auto").items() if n > 0}
    arrays = enc.encode(train)

    def gen(variant, ci, n, seed):
        y = tf.fill([n], ci)
        if variant.startswith("temp"):  # the product's generate at another temperature
            # ``temp<x>_n<y>``: numeric likelihood scale multiplied by y (0 = the means)
            t_part, _, n_part = variant[4:].partition("_n")
            model.temperature = float(t_part)
            decode = type(model).decode_params

            def scaled(z, yy, training=False, _tau=float(n_part or 1.0)):
                params = decode(model, z, yy, training)
                if "num_scale" in params and _tau != 1.0:
                    sd = _tau * D.normal_scale(params["num_scale"])
                    params["num_scale"] = tf.math.log(tf.math.expm1(tf.maximum(sd, 1e-6)))
                return params

            model.decode_params = scaled
            out = model.generate(y, tf.constant([seed, ci], tf.int32))
            del model.decode_params
            dec = enc.decode_tf(out)
            dec = {k: (v.numpy(), None if m is None else m.numpy()) for k, (v, m) in dec.items()}
            return pa.Table.from_batches([enc.to_arrow(dec, ci)])
        s = tf.random.experimental.stateless_split(tf.constant([seed, ci], tf.int32), 2)
        if variant.startswith("post"):
            rows = np.flatnonzero(arrays["y"] == ci)
            pick = np.random.default_rng(seed).choice(rows, n)
            x = {k: v[pick] for k, v in arrays.items()}
            mu, raw = model.encode_params(x)
            eps = tf.random.stateless_normal(tf.shape(mu), seed=s[0])
            z = mu + D.normal_scale(raw) * eps
        else:
            temp = {"t07": 0.7, "t05": 0.5, "t08": 0.8}.get(variant.split("_")[0], 1.0)
            mu, raw = model.prior_params(y)
            eps = tf.random.stateless_normal(tf.shape(mu), seed=s[0])
            z = mu + temp * D.normal_scale(raw) * eps
        params = model.decode_params(z, y)
        out = D.sample_features(model.layout, params, s[1])
        if variant.endswith("mean") and "num_loc" in params:
            out["num"] = params["num_loc"]
        if "_n" in variant and "num_loc" in params:
            tau = float("0." + variant.split("_n")[1][1:])
            e = tf.random.stateless_normal(tf.shape(params["num_loc"]), seed=s[1] + 7)
            out["num"] = params["num_loc"] + tau * D.normal_scale(params["num_scale"]) * e
        dec = enc.decode_tf(out)
        dec = {k: (v.numpy(), None if m is None else m.numpy()) for k, (v, m) in dec.items()}
        return pa.Table.from_batches([enc.to_arrow(dec, ci)])

    for variant in args.variants.split(","):
        synth = pa.concat_tables([gen(variant, enc.class_index(c), n, args.seed) for c, n in need.items()])
        c2st = U.c2st_class_matched(enc, train, synth, label, args.seed)
        x_s, y_s = U.to_frame(synth, label)
        x_s = U._cat_to_object(x_s)[list(x_tr.columns)]
        import pandas as pd

        x_aug = pd.concat([x_tr, x_s], ignore_index=True)
        y_aug = np.concatenate([y_tr, y_s.astype(y_tr.dtype)])
        pre = U.preprocessor(x_tr).fit(x_tr)
        res = []
        for kind in U.CLASSIFIERS:
            clf = U.classifier(kind).fit(pre.transform(x_aug), y_aug)
            m = Pipeline([("pre", pre), ("clf", clf)])
            s = U.score(y_te, m.predict(x_te), m.predict_proba(x_te), m.classes_, minority, binary)
            res.append(f"{kind} f1={s['f1']:.3f} ap={s['ap']:.3f}")
        print(f"{args.dataset} {variant:10s} c2st={c2st:.3f} " + "  ".join(res), flush=True)


if __name__ == "__main__":
    main()
