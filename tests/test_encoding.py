"""Encode/decode round trips are exact for every feature type."""

import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf

from vae_augment.encoding import Encoding
from vae_augment.errors import SchemaError
from vae_augment.training import fit_encoding

from .conftest import make_mixed_table


def roundtrip(encoding: Encoding, table: pa.Table) -> pa.Table:
    """encode (float64) -> decode_tf -> to_arrow, per class, back in input row order."""
    enc = encoding.encode(table, float_dtype=np.float64)
    gen = {k: tf.constant(v) for k, v in enc.items() if k != "y"}
    decoded = encoding.decode_tf(gen)
    decoded = {k: (v.numpy(), None if m is None else m.numpy()) for k, (v, m) in decoded.items()}
    batch = encoding.to_arrow(decoded, enc["y"])
    return pa.Table.from_batches([batch]).drop_columns(["is_synthetic"])


def test_kinds_inferred(mixed_table):
    enc = fit_encoding(mixed_table, "label")
    kinds = {s.name: s.kind for s in enc.specs}
    assert kinds == {
        "f": "numeric", "i": "numeric", "small": "categorical", "s": "categorical",
        "flag": "categorical", "d": "categorical", "f32": "numeric", "const": "numeric",
        "img": "tensor",
    }
    img = next(s for s in enc.specs if s.name == "img")
    assert img.shape == [8, 8] and img.likelihood == "binomial"
    assert enc.classes == ["a", "b", "c"]


def test_roundtrip_exact_every_type(mixed_table):
    enc = fit_encoding(mixed_table, "label")
    back = roundtrip(enc, mixed_table)
    assert back.schema.equals(mixed_table.schema, check_metadata=False)
    for name in mixed_table.column_names:
        a, b = mixed_table.column(name), back.column(name)
        if name in ("f", "f32"):
            a_np = a.to_numpy(zero_copy_only=False)
            b_np = b.to_numpy(zero_copy_only=False)
            assert a.null_count == b.null_count
            np.testing.assert_allclose(b_np, a_np, rtol=1e-6 if name == "f32" else 1e-9, equal_nan=True)
        else:
            assert a.to_pylist() == b.to_pylist(), name


def test_roundtrip_fixed_shape_tensor_type():
    n = 50
    rng = np.random.default_rng(1)
    typ = pa.fixed_shape_tensor(pa.float32(), [4, 4])
    storage = pa.FixedSizeListArray.from_arrays(pa.array(rng.normal(size=n * 16).astype(np.float32)), 16)
    emb = pa.ExtensionArray.from_storage(typ, storage)
    table = pa.table({"emb": emb, "y": pa.array(rng.choice([0, 1], n))})
    enc = fit_encoding(table, "y")
    spec = enc.specs[0]
    assert spec.kind == "tensor" and spec.shape == [4, 4] and spec.likelihood == "normal"
    back = roundtrip(enc, table)
    assert back.schema.equals(table.schema)
    np.testing.assert_allclose(
        np.asarray(back.column("emb").combine_chunks().storage.flatten()),
        np.asarray(storage.flatten()), rtol=1e-5, atol=1e-5)


def test_a_permuted_fixed_shape_tensor_is_modelled_in_its_stored_layout(tmp_path):
    """An `arrow.fixed_shape_tensor`'s `shape` is its storage's row-major (physical) shape,
    by Arrow's spec and as pyarrow writes it: a CHW view of HWC images becomes shape
    [8, 8, 3] with permutation [1, 2, 0]. Every interface reads the storage as `shape` and
    leaves the permutation (the logical view's axis order) unapplied: the model and tf.data
    see HWC images here, and `balance` writes the type back, permutation included.
    (Reading `[shape[p] for p in permutation]` would have reshaped HWC pixels as 8x3x8.)"""
    import pyarrow.parquet as pq

    from vae_augment import tfdata
    from vae_augment.api import balance, fit
    from vae_augment.model import _conv_plan

    from .conftest import FAST

    rng = np.random.default_rng(0)
    hwc = rng.integers(0, 17, (60, 8, 8, 3)).astype(np.uint8)
    img = pa.FixedShapeTensorArray.from_numpy_ndarray(hwc.transpose(0, 3, 1, 2))
    assert img.type.shape == [8, 8, 3] and img.type.permutation == [1, 2, 0]
    np.testing.assert_array_equal(img.storage.flatten().to_numpy(), hwc.reshape(-1))
    src = tmp_path / "t.parquet"
    pq.write_table(pa.table({"img": img, "label": np.repeat(["a", "b"], [40, 20])}), src)
    batch = next(iter(tfdata.read_parquet(str(src), 64)))
    np.testing.assert_array_equal(batch["img"].numpy(), hwc)
    art = fit(str(src), label="label", seed=0, **{**FAST, "epochs": 1})
    assert art.encoding.tensors[0].shape == [8, 8, 3] and _conv_plan([8, 8, 3])
    out = balance(str(src), label="label", model=art, seed=0)["table"]
    assert out.schema.field("img").type == img.type and out.num_rows == 80


def test_decoded_float_tensors_stay_in_the_observed_range():
    """Normal-head tensor elements were decoded without bounds: 12 % of a [0, 1] image's
    synthetic pixels were negative, and an all-1.0 column came back 0.999-1.0011."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    n = 40
    img = pa.FixedSizeListArray.from_arrays(
        pa.array(rng.uniform(0, 1, n * 4).astype(np.float32)), 4)
    ones = pa.FixedSizeListArray.from_arrays(pa.array(np.ones(n * 3, np.float32)), 3)
    enc = fit_encoding(pa.table({"img": img, "ones": ones, "y": rng.choice(["a", "b"], n)}),
                       "y")
    gen = {"num": tf.zeros([5, 0]), "nulls": tf.zeros([5, 0]), "cat": tf.zeros([5, 0], tf.int32)}
    for i, s in enumerate(enc.tensors):  # model-space draws far out either way
        gen[f"tensor_{i}"] = tf.constant(
            np.linspace(-50, 50, 5 * int(np.prod(s.shape))).reshape(5, *s.shape), tf.float32)
    out = enc.decode_tf(gen)
    img_values = out["img"][0].numpy()
    assert img_values.min() >= enc.tensors[0].low and img_values.max() <= enc.tensors[0].high
    np.testing.assert_array_equal(out["ones"][0].numpy(), 1.0)


def test_roundtrip_halffloat_columns():
    """float16 columns (Arrow's compute kernels have none for them) are numbers or, with few
    whole values, categories, and come back as float16."""
    rng = np.random.default_rng(2)
    n = 80
    table = pa.table({
        "h": pa.array(rng.normal(size=n).astype(np.float16)),
        "hn": pa.array([None if i % 7 == 0 else float(v) for i, v in
                        enumerate(rng.normal(size=n).astype(np.float16))], pa.float16()),
        "w": pa.array(rng.integers(0, 3, n).astype(np.float16)),
        "y": pa.array(rng.choice(["a", "b"], n)),
    })
    enc = fit_encoding(table, "y")
    assert {s.name: s.kind for s in enc.specs} == {"h": "numeric", "hn": "numeric",
                                                     "w": "categorical"}
    back = roundtrip(enc, table)
    assert back.schema.equals(table.schema)
    for name in ("h", "hn", "w"):
        assert back.column(name).to_pylist() == table.column(name).to_pylist(), name


def test_ints_within_observed_range(mixed_table):
    enc = fit_encoding(mixed_table, "label")
    gen = {"num": tf.constant(np.full((5, len(enc.numeric)), 8.0)),
           "nulls": tf.zeros((5, len(enc.null_columns))),
           "cat": tf.zeros((5, len(enc.categorical)), tf.int32),
           "tensor_0": tf.fill((5, 8, 8, 1), 2.0)}
    out = enc.decode_tf(gen)
    i_values = out["i"][0].numpy()
    assert i_values.max() == mixed_table.column("i").to_numpy().max()
    img = out["img"][0].numpy()
    assert img.max() <= 16 and img.min() >= 0


def test_unseen_category_is_a_clear_error(mixed_table):
    enc = fit_encoding(mixed_table, "label")
    bad = mixed_table.set_column(
        mixed_table.schema.get_field_index("s"), "s", pa.array(["x"] * (mixed_table.num_rows - 1) + ["nope"]))
    with pytest.raises(SchemaError, match=r"column 's' has categories \['nope'\]"):
        enc.encode(bad)


def test_json_roundtrip(mixed_table):
    enc = fit_encoding(mixed_table, "label")
    again = Encoding.from_json(enc.to_json())
    assert again.layout() == enc.layout()
    assert again.schema.equals(enc.schema, check_metadata=True)
    a = enc.encode(mixed_table)
    b = again.encode(mixed_table)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


@pytest.mark.parametrize("n_classes", [2, 5])
def test_int_labels(n_classes):
    t = make_mixed_table(200, with_tensor=False)
    y = pa.array(np.arange(200) % n_classes, pa.int64())
    t = t.set_column(t.schema.get_field_index("label"), "label", y)
    enc = fit_encoding(t, "label")
    assert enc.classes == list(range(n_classes))
    back = roundtrip(enc, t)
    assert back.column("label").equals(t.column("label"))
    assert enc.class_index(1) == 1 and enc.class_index(np.int64(1)) == 1
    assert enc.class_index("1") == 1 and enc.class_index(1.0) == 1
    with pytest.raises(SchemaError, match=r"class True is not one of the model's classes"):
        enc.class_index(True)  # True == 1 in Python, but not the int class 1


def _float_table(n=400, seed=0):
    rng = np.random.default_rng(seed)
    return pa.table({
        "onehot": pa.array(rng.integers(0, 2, n).astype(np.float64)),
        "level32": pa.array(rng.integers(0, 3, n).astype(np.float32)),
        "halves": pa.array(rng.integers(0, 4, n) / 2.0),  # not whole numbers
        "const": pa.array(np.full(n, 7.0)),
        "cont": pa.array(rng.normal(size=n)),
        "y": pa.array(rng.choice(["a", "b"], n)),
    })


def test_floats_of_few_whole_numbers_are_categories():
    # what a one-hot encoder hands an oversampler: 0.0/1.0 columns
    table = _float_table()
    enc = fit_encoding(table, "y")
    kinds = {s.name: s.kind for s in enc.specs}
    assert kinds == {"onehot": "categorical", "level32": "categorical", "halves": "numeric",
                     "const": "numeric", "cont": "numeric"}
    assert next(s for s in enc.specs if s.name == "onehot").vocab == [0.0, 1.0]
    back = roundtrip(enc, table)
    assert back.schema.equals(table.schema)
    for name in ("onehot", "level32"):
        assert back.column(name).to_pylist() == table.column(name).to_pylist()
    forced = fit_encoding(table, "y", numeric=["onehot"])
    assert next(s for s in forced.specs if s.name == "onehot").kind == "numeric"


def test_float_category_counts_merge_across_shards():
    from vae_augment.schema import SchemaStats
    from vae_augment.stats_merge import encoding_from_stats, merge_stats

    table = _float_table()
    wide = pa.table({"x": pa.array(np.arange(12, dtype=np.float64)), "y": pa.array(["a", "b"] * 6)})
    for data, want in ((table, "categorical"), (wide, "numeric")):
        halves = [data.slice(0, data.num_rows // 2), data.slice(data.num_rows // 2)]
        stats = []
        for part in halves:  # each half alone holds at most 10 values of `x`
            st = SchemaStats(data.schema, "y")
            st.update(part)
            stats.append(st)
        merged = encoding_from_stats(merge_stats(stats[0], stats[1]))
        name = "onehot" if data is table else "x"
        assert next(s for s in merged.specs if s.name == name).kind == want


@pytest.mark.parametrize("first", [0.0, -0.0])
def test_negative_zero_is_the_same_category(first, tmp_path):
    """Arrow's hash kernels tell -0.0 from 0.0, Python's dicts do not: a float category holding
    both used to count as one value and then fail to look the other up."""
    from vae_augment.api import class_counts
    from vae_augment.beam.counting import table_counts
    from vae_augment.scoring import unseen_category_rows

    zeros = [first, -first, 1.0, first, 1.0, -first, 0.0, 1.0] * 3  # -first: the other zero
    table = pa.table({
        "onehot": pa.array(zeros, pa.float64()),
        "f32": pa.array(zeros, pa.float32()),
        "y": pa.array(["a", "b", "a"] * 8),
    })
    assert len(pa.compute.unique(table.column("onehot"))) == 3  # Arrow: -0.0, 0.0, 1.0
    enc = fit_encoding(table, "y")
    for name in ("onehot", "f32"):
        spec = next(s for s in enc.specs if s.name == name)
        assert spec.kind == "categorical" and spec.vocab == [0.0, 1.0], spec.vocab
        assert str(spec.vocab[0]) == "0.0"  # +0.0 whichever zero came first
    back = roundtrip(enc, table)  # encodes every row: no "categories [-0.0] ... not trained on"
    assert back.column("onehot").to_pylist() == table.column("onehot").to_pylist()  # 0 == -0
    assert not unseen_category_rows(enc, table).any()
    # class counts of a float column (Beam and in-memory) count the two zeros as one value
    assert table_counts(table, "onehot") == {0.0: 15, 1.0: 9}
    import pyarrow.parquet as pq

    pq.write_table(table, tmp_path / "t.parquet")
    assert class_counts(str(tmp_path / "t.parquet"), "onehot") == {0.0: 15, 1.0: 9}
