"""Float tensor (embedding) columns decoded at the Normal head's mean (the library's choice
until session 33) against a draw from it: spread, norm, detectability and a downstream
classifier, on synthetic unit-norm embeddings of two structures.

    python benchmarks/explore/embedding_draws.py [--seeds 0,1,2] [--dim 32]

Each table: class 'a' (3,000 rows) and 'b' (300 rows), a `dim`-d float32 embedding
(a fixed-size list) normalised to unit length, and one numeric column. 'isotropic': each
class is its mean direction plus isotropic noise; 'low_rank': plus noise in a 3-d subspace
of its own (and a little isotropic noise); 'digits_float': the bundled digits_longtail
with its pixels as float32 in [0, 1] (an image; until session 33 a Normal head kept at its
mean, since then a Binomial head on the pixels' grid of 1/16, drawn). A library-default model is fitted on a 70 %
stratified split; `auto` balancing's rows of 'b' are generated both ways from the same
model and seed (the model is fitted with the library's defaults, so since session 33 its
bank pruning scores embeddings drawn; both modes are forced here). Printed per structure
and seed: per-dimension SD and norm of the synthetic
'b' rows against the real ones, mean pairwise cosine, C2ST AUC against the real training
'b' rows (`vae_augment.detection.c2st_auc`, 0.5 ideal), and the minority-class F1 of a
logistic regression trained on real + synthetic rows, scored on the held-out 30 % (beside
no balancing, random oversampling and SMOTE on the same split).
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402


def make_table(structure: str, dim: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    rows, labels, extra = [], [], []
    base = None
    for cls, n in (("a", 3000), ("b", 300)):
        mean = rng.normal(size=dim)
        mean /= np.linalg.norm(mean)
        if base is None:
            base = mean
        else:  # 'b' near 'a', so a classifier has work to do
            mean = 0.15 * mean + 0.85 * base
            mean /= np.linalg.norm(mean)
        if structure == "isotropic":
            x = mean + rng.normal(scale=0.12, size=(n, dim))
        else:
            basis = np.linalg.qr(rng.normal(size=(dim, 3)))[0]
            x = mean + rng.normal(scale=0.35, size=(n, 3)) @ basis.T \
                + rng.normal(scale=0.02, size=(n, dim))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        rows.append(x.astype(np.float32))
        labels += [cls] * n
        extra.append(x[:, 0] * 3 + rng.normal(scale=1.0, size=n))
    emb = np.vstack(rows)
    return pa.table({
        "emb": pa.FixedSizeListArray.from_arrays(pa.array(emb.ravel()), dim),
        "x": pa.array(np.concatenate(extra)),
        "y": labels,
    })


def digits_float() -> pa.Table:
    """The bundled digits_longtail with its 0..16 pixels as float32 in [0, 1] (as Keras
    users scale images): a float tensor, so a Normal head."""
    import pyarrow.parquet as pq

    here = os.path.dirname(os.path.abspath(__file__))
    t = pq.read_table(os.path.join(here, "..", "..", "examples", "data",
                                   "digits_longtail.parquet"))
    col = t.column("image").combine_chunks()
    pixels = col.flatten().to_numpy(zero_copy_only=False).astype(np.float32) / 16
    return pa.table({"emb": pa.FixedSizeListArray.from_arrays(pa.array(pixels), 64),
                     "y": pa.array([str(v) for v in t.column("label").to_pylist()])},
                    metadata={b"image_shape": b"8,8"})


def matrix(table: pa.Table) -> np.ndarray:
    col = table.column("emb").combine_chunks()
    dim = col.type.list_size
    emb = col.flatten().to_numpy(zero_copy_only=False).reshape(-1, dim)
    if "x" not in table.column_names:
        return np.column_stack([emb, np.zeros(len(emb))])
    return np.column_stack([emb, table.column("x").to_numpy()])


def stats(emb: np.ndarray) -> tuple[float, float, float]:
    norms = np.linalg.norm(emb, axis=1)
    unit = emb / norms[:, None]
    cos = unit @ unit.T
    n = len(unit)
    return float(emb.std(axis=0).mean()), float(norms.mean()), float(
        (cos.sum() - n) / (n * (n - 1)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--structures", default="isotropic,low_rank")
    args = ap.parse_args()

    from imblearn.over_sampling import SMOTE, RandomOverSampler
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    import vae_augment.distributions as D
    from vae_augment.api import fit, sample
    from vae_augment.detection import c2st_auc

    original = D.sample_features

    def lr_f1(x, y, xte, yte):
        sc = StandardScaler().fit(x)
        clf = LogisticRegression(max_iter=2000).fit(sc.transform(x), y)
        if len(set(yte)) > 2:
            return f1_score(yte, clf.predict(sc.transform(xte)), average="macro")
        return f1_score(yte == "b", clf.predict(sc.transform(xte)) == "b")

    for structure in args.structures.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            table = (digits_float() if structure == "digits_float"
                     else make_table(structure, args.dim, seed))
            y = np.asarray(table.column("y").to_pylist())
            tr, te = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y,
                                      random_state=seed)
            train, test = table.take(pa.array(tr)), table.take(pa.array(te))
            xtr, ytr, xte, yte = matrix(train), y[tr], matrix(test), y[te]
            classes, counts = np.unique(ytr, return_counts=True)
            needs = {c: int(counts.max() - n) for c, n in zip(classes, counts)
                     if n < counts.max()}
            minority = {str(c) for c in needs}
            real_b = train.filter(pa.array([v in minority for v in ytr]))
            art = fit(train, label="y", seed=seed, verbose=0)
            base = {"none": lr_f1(xtr, ytr, xte, yte)}
            for name, sampler in (("ROS", RandomOverSampler(random_state=seed)),
                                  ("SMOTE", SMOTE(random_state=seed,
                                                 k_neighbors=min(5, int(counts.min()) - 1)))):
                base[name] = lr_f1(*sampler.fit_resample(xtr, ytr), xte, yte)
            sd_r, norm_r, cos_r = stats(matrix(real_b)[:, :-1])
            print(f"{structure} seed {seed}: real minority rows: sd {sd_r:.4f} norm {norm_r:.3f} "
                  f"cos {cos_r:.3f}; LR none {base['none']:.3f} ROS {base['ROS']:.3f} "
                  f"SMOTE {base['SMOTE']:.3f}", flush=True)
            for mode, tensor_mean in (("mean", True), ("draw", False)):
                def patched(layout, params, seed_, *, tensor_mean=None, _o=original,
                            _force=tensor_mean):  # forced, whatever the layout says
                    return _o(layout, params, seed_, tensor_mean=_force)

                D.sample_features = patched
                try:
                    synth = sample(art, needs, seed=seed)
                finally:
                    D.sample_features = original
                xs = matrix(synth)
                sd, norm, cos = stats(xs[:, :-1])
                c2st = c2st_auc(art.encoding, real_b, synth, seed=seed)
                ys = np.asarray(synth.column("y").to_pylist())
                f1 = lr_f1(np.vstack([xtr, xs]), np.concatenate([ytr, ys]), xte, yte)
                print(f"  {mode}: sd {sd:.4f} ({sd / sd_r:.2f}x) norm {norm:.3f} cos {cos:.3f} "
                      f"C2ST {c2st:.3f} LR {f1:.3f}", flush=True)


if __name__ == "__main__":
    main()
