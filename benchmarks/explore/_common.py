"""Shared set-up of the one-off exploration scripts: import paths and the utility protocol's
70/30 stratified split of a ../shared dataset."""

from __future__ import annotations

import os
import sys
from types import SimpleNamespace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(HERE, ".."))

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import utility as U  # noqa: E402


def split(dataset: str, seed: int = 0) -> SimpleNamespace:
    """The split `benchmarks/utility.py` scores on: tables, frames, the `auto` counts, and the
    preprocessing fitted on the real training rows."""
    from sklearn.model_selection import train_test_split

    label = U.DATASETS[dataset]
    table = U.load(dataset)
    y_all = np.asarray(table.column(label).to_pylist())
    values, counts = np.unique(y_all, return_counts=True)
    tr, te = train_test_split(np.arange(table.num_rows), test_size=0.3, stratify=y_all,
                              random_state=seed)
    train, test = table.take(pa.array(tr)), table.take(pa.array(te))
    x_tr, y_tr = U.to_frame(train, label)
    x_te, y_te = U.to_frame(test, label)
    x_tr, x_te = U._cat_to_object(x_tr), U._cat_to_object(x_te)
    pre = U.preprocessor(x_tr).fit(x_tr)
    return SimpleNamespace(
        label=label, train=train, test=test, x_tr=x_tr, y_tr=y_tr, x_te=x_te, y_te=y_te,
        minority=values[np.argmin(counts)], binary=len(values) == 2,
        need=U.auto_counts(y_tr), pre=pre, Xtr=pre.transform(x_tr), Xte=pre.transform(x_te),
    )


def f1(split_: SimpleNamespace, predicted) -> float:
    """Minority-class F1 (binary) or macro F1 (multiclass), as the protocol scores."""
    from sklearn.metrics import f1_score

    if split_.binary:
        return f1_score(split_.y_te == split_.minority, predicted == split_.minority)
    return f1_score(split_.y_te, predicted, average="macro")


def augmented(split_: SimpleNamespace, synth: pa.Table):
    """(X, y) of the real training rows plus the synthetic rows, preprocessed."""
    x_s, y_s = U.to_frame(synth, split_.label)
    x_s = U._cat_to_object(x_s)[list(split_.x_tr.columns)]
    return (np.vstack([split_.Xtr, split_.pre.transform(x_s)]),
            np.concatenate([split_.y_tr, y_s.astype(split_.y_tr.dtype)]))


def generate(model, encoding, need: dict, seed: int, *, tensor_mean: bool | None = None) -> pa.Table:
    """`need` ({class: rows}) rows from `model.generate`, one call per class with seed
    (seed, class index): the product's decoding, without the sampler's blocks (with the
    encoding's constraints since session 17, as the product applies them; `tensor_mean`
    given: without them)."""
    import tensorflow as tf

    from vae_augment.constraints import constrained_generate

    tables = []
    for c, n in need.items():
        ci = encoding.class_index(c)
        y, s = tf.fill([n], ci), tf.constant([seed, ci], tf.int32)
        out = (model.generate(y, s, tensor_mean=tensor_mean) if tensor_mean is not None
               else constrained_generate(model, encoding, y, s))
        tables.append(decode(encoding, out, ci))
    return pa.concat_tables(tables)


def decode(encoding, out: dict, class_idx: int) -> pa.Table:
    """`model.generate` output of one class as an Arrow table in the input schema."""
    dec = {k: (v.numpy(), None if m is None else m.numpy())
           for k, (v, m) in encoding.decode_tf(out).items()}
    return pa.Table.from_batches([encoding.to_arrow(dec, class_idx)])


def scores(split_: SimpleNamespace, synth: pa.Table) -> str:
    """'LR f1 HGB f1' of classifiers trained on the real plus synthetic training rows."""
    x, y = augmented(split_, synth)
    return " ".join(f"{kind} {f1(split_, U.classifier(kind).fit(x, y).predict(split_.Xte)):.3f}"
                    for kind in U.CLASSIFIERS)


def bundled_churn_guided(epochs: int = 20):
    """(model, churner class index) of a guided fit (`vae_augment.GUIDED`) on the bundled churn
    data (examples/data), as the guided cost benchmarks use it."""
    import pyarrow.parquet as pq

    from vae_augment import GUIDED
    from vae_augment.api import fit

    data = os.path.join(HERE, "..", "..", "examples", "data", "churn.parquet")
    art = fit(pq.read_table(data), label="churn", seed=0, verbose=0, epochs=epochs, **GUIDED)
    return art.model, art.encoding.class_index("yes")


def flip_labels(table: pa.Table, label: str, share: float, rng: np.random.Generator):
    """(table with `share` of its rows' labels moved to another class, uniformly among the
    others; the flipped rows as a mask; the clean labels; the noisy labels). Rows with a null
    label are dropped first (the mislabelled-row explorations: label_noise.py,
    label_doubt.py)."""
    y = np.array(table.column(label).to_pylist(), dtype=object)
    keep = np.array([v is not None for v in y])
    table, y = table.filter(pa.array(keep)), y[keep]
    classes = sorted(set(y))
    n = len(y)
    flip = rng.choice(n, size=round(share * n), replace=False)
    noisy = y.copy()
    for i in flip:
        noisy[i] = rng.choice([c for c in classes if c != y[i]])
    flipped = np.zeros(n, bool)
    flipped[flip] = True
    noisy_table = table.set_column(table.schema.get_field_index(label), label,
                                   pa.array(list(noisy), table.schema.field(label).type))
    return noisy_table, flipped, y, noisy


def paired_table(title: str, results: dict, base: str) -> None:
    """Prints a markdown table of per-seed figures (`results`: {method: [figure per split
    seed]}) paired with method `base` on the same seeds: the first three seeds, their mean,
    the mean over all, the mean difference from `base` with its standard error, and on how
    many seeds a method is ahead."""
    ref = np.array(results[base])
    n = len(ref)
    print(f"{title}, split seeds 0-{n - 1}, paired with {base}")
    print(f"| method | seeds 0 / 1 / 2 | seeds 0-2 | all seeds | minus {base} (se) | ahead on |")
    print("|---|---|---|---|---|---|")
    for name, v in results.items():
        v = np.array(v)
        d = v - ref
        se = d.std(ddof=1) / np.sqrt(n) if n > 1 else float("nan")
        print(f"| {name} | {' / '.join(f'{t:.3f}' for t in v[:3])} | {v[:3].mean():.3f} | "
              f"{v.mean():.3f} | {d.mean():+.4f} ({se:.4f}) | {int((d > 0).sum())} of {n} |")
