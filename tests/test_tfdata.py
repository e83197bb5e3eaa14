"""tf.data: real/synthetic feature-dict streams, balancing, augmentation, graph-only generation."""

import json
import math
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tests.conftest import BUNDLED, FAST, REPO

tf = pytest.importorskip("tensorflow")

from vae_augment import tfdata  # noqa: E402
from vae_augment.errors import SchemaError, VAEAugmentError  # noqa: E402
from vae_augment.sampler import BLOCK_ROWS, block_seed  # noqa: E402

CHURN = BUNDLED / "churn.parquet"
DIGITS = BUNDLED / "digits_longtail.parquet"
PYFUNC_OPS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}


def _tolerance(p: float, n: int) -> float:
    """4 binomial standard errors: the stated tolerance for observed class proportions."""
    return 4.0 * math.sqrt(p * (1.0 - p) / n)


def _ops(dataset) -> list[str]:
    """Every op type in a dataset's serialised graph, including its function library."""
    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(dataset._as_serialized_graph().numpy())
    ops = [n.op for n in graph.node]
    for f in graph.library.function:
        ops.extend(n.op for n in f.node_def)
    return ops


def _labels(dataset, key):
    return np.concatenate([np.atleast_1d(b[key].numpy()) for b in dataset])


@pytest.fixture(scope="module")
def churn_model(tmp_path_factory):
    from vae_augment.api import fit

    model_dir = tmp_path_factory.mktemp("tfdata") / "churn"
    return fit(str(CHURN), label="churn", model_dir=str(model_dir), seed=0,
               **{**FAST, "batch_size": 256})


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory):
    from vae_augment.api import fit

    model_dir = tmp_path_factory.mktemp("tfdata") / "digits"
    return fit(str(DIGITS), label="label", model_dir=str(model_dir), seed=0, **FAST)


@pytest.fixture(scope="module")
def mixed_model(mixed_artifact):
    from vae_augment.artifact import load_artifact

    return load_artifact(str(mixed_artifact))


# ---------------------------------------------------------------------- seeds
@pytest.mark.parametrize("seed", [0, 7, 2**32 - 1, 2**40 + 5, -3])
@pytest.mark.parametrize("class_idx", [0, 2])
def test_block_seed_in_tf_equals_the_samplers(seed, class_idx):
    blocks = [0, 1, 2, 17, 1000, 2**31, 2**32 - 2]
    fn = tf.function(lambda b: tfdata._block_seed_tf(seed, class_idx, b))
    got = np.stack([fn(tf.constant(b, tf.int64)).numpy() for b in blocks])
    want = np.stack([block_seed(seed, class_idx, b) for b in blocks])
    np.testing.assert_array_equal(got, want)


# ---------------------------------------------------------------------- real stream
def test_read_parquet_streams_exact_batches_across_files(tmp_path):
    table = pq.read_table(CHURN)
    pq.write_table(table.slice(0, 1300), tmp_path / "a.parquet", row_group_size=400)
    pq.write_table(table.slice(1300, 900), tmp_path / "b.parquet", row_group_size=500)
    ds = tfdata.read_parquet(str(tmp_path), 700, columns=["churn", "total_day_minutes", "state"])
    batches = list(ds)
    assert [len(b["churn"]) for b in batches] == [700, 700, 700, 100]
    assert list(ds.element_spec) == ["churn", "total_day_minutes", "state"]
    minutes = np.concatenate([b["total_day_minutes"].numpy() for b in batches])
    np.testing.assert_array_equal(minutes, table.column("total_day_minutes").to_numpy()[:2200])
    states = np.concatenate([b["state"].numpy() for b in batches])
    assert [s.decode() for s in states] == table.column("state").to_pylist()[:2200]
    # a second epoch re-reads the files
    assert sum(len(b["churn"]) for b in ds) == 2200


def test_read_parquet_nulls_become_fill_values_with_masks(mixed_parquet, mixed_table):
    ds = tfdata.read_parquet(str(mixed_parquet), 128, null_masks=True)
    batches = list(ds)  # once: a comprehension per key would re-run the dataset per key
    rows = {k: np.concatenate([b[k].numpy() for b in batches]) for k in ds.element_spec}
    f_null = mixed_table.column("f").is_null().to_numpy(zero_copy_only=False)
    assert f_null.any()
    np.testing.assert_array_equal(rows["f__is_null"], f_null)
    assert np.isnan(rows["f"][f_null]).all() and not np.isnan(rows["f"][~f_null]).any()
    s_null = mixed_table.column("s").is_null().to_numpy(zero_copy_only=False)
    assert s_null.any()
    np.testing.assert_array_equal(rows["s__is_null"], s_null)
    assert set(rows["s"][s_null]) == {b""}
    assert rows["d"].dtype == object  # dictionary<string> is decoded to tf.string
    assert [v.decode() for v in rows["d"]] == mixed_table.column("d").to_pylist()
    assert ds.element_spec["img"] == tf.TensorSpec([None, 8, 8], tf.uint8)
    img = pc.list_flatten(mixed_table.column("img")).to_numpy().reshape(-1, 8, 8)
    np.testing.assert_array_equal(rows["img"], img)
    assert ds.element_spec["small"].dtype == tf.int32
    assert ds.element_spec["f32"].dtype == tf.float32
    assert not rows["i__is_null"].any()


def test_read_parquet_errors(mixed_parquet, tmp_path):
    with pytest.raises(SchemaError, match="`columns` names \\['nope'\\]"):
        tfdata.read_parquet(str(mixed_parquet), 10, columns=["f", "nope"])
    with pytest.raises(SchemaError, match="`null_masks` names columns \\['i'\\]"):
        tfdata.read_parquet(str(mixed_parquet), 10, columns=["f"], null_masks=["i"])
    with pytest.raises(VAEAugmentError, match="`batch_size` must be a positive integer, got 0"):
        tfdata.read_parquet(str(mixed_parquet), 0)
    pq.write_table(pa.table({"t": pa.array([{"a": 1}, {"a": 2}])}), tmp_path / "t.parquet")
    with pytest.raises(SchemaError, match="column 't' has type struct<a: int64>, which tf.data"):
        tfdata.read_parquet(str(tmp_path / "t.parquet"), 10)


# ---------------------------------------------------------------------- synthetic stream
@pytest.mark.parametrize(
    "case",
    ["churn", "mixed", "mixed_masks", "mixed_subset", "digits"],
)
def test_real_and_synthetic_element_specs_are_equal(case, request):
    kwargs = {}
    if case == "churn":
        model, path, label = request.getfixturevalue("churn_model"), CHURN, "yes"
    elif case == "digits":
        model, path, label = request.getfixturevalue("digits_model"), DIGITS, 3
    else:
        model = request.getfixturevalue("mixed_model")
        path, label = request.getfixturevalue("mixed_parquet"), "c"
        if case == "mixed_masks":
            kwargs = {"null_masks": True}
        if case == "mixed_subset":
            kwargs = {"columns": ["img", "label", "s", "f"], "null_masks": ["s"]}
    real = tfdata.read_parquet(str(path), 64, **kwargs)
    syn = tfdata.synthetic_dataset(model, label, batch_size=64, seed=0, n=100, **kwargs)
    assert real.element_spec == syn.element_spec
    batches = list(syn)
    assert [len(b[next(iter(b))]) for b in batches] == [64, 36]
    first = next(iter(real))
    for key, value in batches[0].items():
        assert value.dtype == first[key].dtype and value.shape[1:] == first[key].shape[1:]


@pytest.fixture(scope="module")
def cli_samples(tmp_path_factory, mixed_artifact, guided_artifact):
    """{fixture name: Parquet file} of `vae-augment sample`'s rows (700 of class b, seed 5)
    from each artifact, both written by one fresh process (one TensorFlow start-up)."""
    folder = tmp_path_factory.mktemp("cli_samples")
    outs = {"mixed_artifact": (mixed_artifact, folder / "mixed.parquet"),
            "guided_artifact": (guided_artifact, folder / "guided.parquet")}
    # One intra-op thread: TF's stateless_categorical CPU kernel draws differently when a
    # batch is split across threads (the tf.data path always runs one thread per call).
    code = (
        "import tensorflow as tf\n"
        "tf.config.threading.set_intra_op_parallelism_threads(1)\n"
        "from vae_augment.api import sample\n"
        + "".join(f"sample({str(art)!r}, {{'b': 700}}, {str(out)!r}, seed=5)\n"
                  for art, out in outs.values())
        + "import os\nos._exit(0)\n"  # written: no interpreter teardown (TensorFlow's: 1-2 s)
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, env=env, timeout=300)
    return {name: out for name, (_, out) in outs.items()}


@pytest.mark.parametrize("artifact", ["mixed_artifact", "guided_artifact"])
def test_synthetic_rows_equal_the_cli_sampler(artifact, cli_samples, request):
    """With batch_size=BLOCK_ROWS the graph path yields `vae-augment sample`'s rows, with the
    class guide's redraws too."""
    mixed_artifact = request.getfixturevalue(artifact)
    table = pq.read_table(cli_samples[artifact])
    syn = tfdata.synthetic_dataset(
        str(mixed_artifact), "b", batch_size=BLOCK_ROWS, seed=5, n=700, null_masks=True
    )
    batches = list(syn)  # once: a comprehension per key would re-run the sampler per key
    rows = {k: np.concatenate([b[k].numpy() for b in batches]) for k in syn.element_spec}
    cols = tfdata._columns(table.schema.remove(table.schema.get_field_index("is_synthetic")),
                           None, "x")
    for c in cols:
        ref, mask = tfdata._arrow_column_to_numpy(table.column(c.name), c)
        if ref.dtype == object:
            ref = np.asarray([v.encode() for v in ref], object)
        np.testing.assert_array_equal(rows[c.name + "__is_null"], mask, err_msg=c.name)
        if c.np_dtype.kind == "f":
            # exactly: the CLI's rounded decimals are the doubles nearest them, as the stream's
            np.testing.assert_array_equal(rows[c.name], ref, err_msg=c.name)
        else:
            np.testing.assert_array_equal(rows[c.name], ref, err_msg=c.name)
    # the model does generate nulls, and they are NaN / b"" in the feature dict
    assert rows["f__is_null"].any() and np.isnan(rows["f"][rows["f__is_null"]]).all()


def test_excluded_columns_are_null_in_synthetic_rows(tmp_path):
    from tests.conftest import make_mixed_table
    from vae_augment.api import fit

    table = make_mixed_table(150, seed=1, with_tensor=False)
    path = tmp_path / "t.parquet"
    pq.write_table(table, path)
    art = fit(str(path), label="label", exclude=["f32", "s"], seed=0, **FAST)
    real = tfdata.read_parquet(str(path), 50, null_masks=["f32", "s", "i"])
    syn = tfdata.synthetic_dataset(art, "a", batch_size=50, seed=0, n=50,
                                   null_masks=["f32", "s", "i"])
    assert real.element_spec == syn.element_spec
    row = next(iter(syn))
    assert np.isnan(row["f32"].numpy()).all() and row["f32__is_null"].numpy().all()
    assert set(row["s"].numpy()) == {b""} and row["s__is_null"].numpy().all()
    assert not row["i__is_null"].numpy().any()


def test_synthetic_seeds_are_deterministic(churn_model):
    def take(seed, n=None, rows=300):
        ds = tfdata.synthetic_dataset(churn_model, "yes", batch_size=128, seed=seed, n=n)
        return _labels(ds.unbatch().take(rows).batch(rows), "total_day_minutes")

    a, b, c = take(1), take(1), take(2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(take(1, n=300), a)  # an n-row stream is a prefix


def test_synthetic_dataset_errors(churn_model):
    with pytest.raises(SchemaError, match="`label` names class 'maybe', which is not one of"):
        tfdata.synthetic_dataset(churn_model, "maybe", batch_size=8, seed=0)
    with pytest.raises(SchemaError, match="`columns` names \\['x'\\]"):
        tfdata.synthetic_dataset(churn_model, "yes", batch_size=8, seed=0, columns=["x"])
    with pytest.raises(VAEAugmentError, match="`n` must be None or a non-negative integer"):
        tfdata.synthetic_dataset(churn_model, "yes", batch_size=8, seed=0, n=-1)
    with pytest.raises(VAEAugmentError, match="`model` must be an Artifact or a model directory"):
        tfdata.synthetic_dataset(42, "yes", batch_size=8, seed=0)


# ---------------------------------------------------------------------- graph-only generation
def test_no_python_ops_in_synthetic_graphs(churn_model, mixed_model, mixed_table):
    # positive control: the real stream does run Python (from_generator)
    real = tfdata.read_parquet(str(CHURN), 256)
    real_ops = _ops(real)
    assert PYFUNC_OPS & set(real_ops)

    syn = tfdata.synthetic_dataset(mixed_model, "c", batch_size=64, seed=0, null_masks=True)
    ops = set(_ops(syn))
    assert not ops & PYFUNC_OPS
    assert {"StatelessRandomNormalV2", "GatherV2", "MatMul"} <= ops  # decoder runs in-graph

    in_memory = tf.data.Dataset.from_tensor_slices(
        {k: v.numpy() for k, v in next(iter(real.unbatch().batch(1000))).items()}
    ).batch(100)
    augmented = in_memory.map(tfdata.augment_fn(churn_model, label_key="churn", seed=0))
    assert not set(_ops(augmented)) & PYFUNC_OPS

    # balance adds no Python beyond the real stream's own generator
    bal = tfdata.balance(real, churn_model, label_key="churn", seed=0, batch_size=64)
    count = lambda ops: sorted(o for o in ops if o in PYFUNC_OPS)  # noqa: E731
    assert count(_ops(bal)) == count(real_ops)


def test_synthetic_dataset_runs_on_the_tf_data_service(mixed_model):
    syn = tfdata.synthetic_dataset(mixed_model, "a", batch_size=50, seed=3, n=120)
    local = [b["f"].numpy() for b in syn]
    dispatcher = tf.data.experimental.service.DispatchServer()
    worker = tf.data.experimental.service.WorkerServer(  # noqa: F841 - kept alive
        tf.data.experimental.service.WorkerConfig(
            dispatcher_address=dispatcher.target.split("://")[1]
        )
    )
    remote = syn.apply(tf.data.experimental.service.distribute(
        processing_mode="parallel_epochs", service=dispatcher.target))
    got = [b["f"].numpy() for b in remote]
    assert len(got) == len(local) == 3
    for a, b in zip(got, local):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------- balance
def test_mixture_weights():
    # numpy floats are proportions, like Python floats
    assert tfdata.mixture_weights({"a": 5, "b": 5}, {"a": np.float32(0.5), "b": 0.5})[0] == 1.0
    w_real, w_syn, p = tfdata.mixture_weights({"no": 90, "yes": 10})
    assert w_real == pytest.approx(100 / 180)  # 100 real rows of a 180-row balanced epoch
    assert w_syn == pytest.approx({"no": 0.0, "yes": 80 / 180})
    assert p == pytest.approx({"no": 0.5, "yes": 0.5})
    w_real, w_syn, p = tfdata.mixture_weights({"a": 70, "b": 20, "c": 10},
                                              {"a": 0.2, "b": 0.3, "c": 0.5})
    assert w_real == pytest.approx(0.2 / 0.7)
    for c, q in {"a": 0.7, "b": 0.2, "c": 0.1}.items():
        assert w_real * q + w_syn[c] == pytest.approx(p[c])
    _, _, p = tfdata.mixture_weights({"no": 90, "yes": 10}, 0.5)  # imbalanced-learn float
    assert p["yes"] == pytest.approx(45 / 135)
    with pytest.raises(VAEAugmentError, match="summing to 1"):
        tfdata.mixture_weights({"a": 5, "b": 5}, {"a": 0.5, "b": 0.6})
    with pytest.raises(VAEAugmentError, match="target of 0"):
        tfdata.mixture_weights({"a": 5, "b": 5}, {"a": 1.0, "b": 0.0})


@pytest.mark.parametrize("mix_rows", [1, 16])
def test_balance_churn_matches_auto_target(churn_model, mix_rows):
    real = tfdata.read_parquet(str(CHURN), 1024)
    ds = tfdata.balance(real, churn_model, label_key="churn", seed=0, batch_size=512,
                        flag_key="is_synthetic", mix_rows=mix_rows)
    assert ds.element_spec["churn"] == tf.TensorSpec([None], tf.string)
    batches = list(ds)
    labels = np.concatenate([b["churn"].numpy() for b in batches])
    flags = np.concatenate([b["is_synthetic"].numpy() for b in batches])
    n = len(labels)
    assert n > 6000  # a balanced epoch: 5000 real rows plus ~3586 generated ones
    share = float(np.mean(labels == b"yes"))
    assert abs(share - 0.5) <= _tolerance(0.5, n), (share, n)
    # every real row exactly once, the generated rows all of the minority class
    assert (~flags).sum() == 5000
    assert (labels[~flags] == b"yes").sum() == 707
    assert set(labels[flags]) == {b"yes"}
    assert all(len(b["churn"]) == 512 for b in batches[:-1])
    # seeded: the same run gives the same interleaving
    def first_rows(seed):
        ds = tfdata.balance(real, churn_model, label_key="churn", seed=seed, batch_size=512,
                            mix_rows=mix_rows)
        return _labels(ds.take(4), "churn")

    np.testing.assert_array_equal(first_rows(0), labels[:2048])
    assert not np.array_equal(first_rows(1), labels[:2048])


def test_balance_target_distribution_over_rows(mixed_model, mixed_parquet, mixed_table):
    target = {"a": 0.2, "b": 0.3, "c": 0.5}
    counts = pc.value_counts(mixed_table.column("label")).to_pylist()
    counts = {d["values"]: d["counts"] * 5 for d in counts}
    real = tfdata.read_parquet(str(mixed_parquet), 100, null_masks=["f", "s"]).repeat(5)
    ds = tfdata.balance(real.unbatch(), mixed_model, label_key="label", sampling_strategy=target,
                        class_counts=counts, seed=3)
    assert ds.element_spec["label"].shape == []  # rows in, rows out
    labels = _labels(ds.batch(1000), "label")
    n = len(labels)
    assert n > 3000
    for c, p in target.items():
        share = float(np.mean(labels == c.encode()))
        assert abs(share - p) <= _tolerance(p, n), (c, share, p, n)


def test_balance_errors(churn_model, mixed_model, mixed_parquet):
    real = tfdata.read_parquet(str(CHURN), 100)
    with pytest.raises(SchemaError, match="`label_key` 'label' is not a key"):
        tfdata.balance(real, churn_model, label_key="label", seed=0)
    with pytest.raises(SchemaError, match="not the model's label column 'label'"):
        tfdata.balance(real, mixed_model, label_key="churn", seed=0)
    wrong = real.map(lambda d: {**d, "account_length": tf.cast(d["account_length"], tf.float32)})
    with pytest.raises(SchemaError, match="'account_length': real TensorSpec"):
        tfdata.balance(wrong, churn_model, label_key="churn", seed=0)
    extra = real.map(lambda d: {**d, "extra": d["account_length"]})
    with pytest.raises(SchemaError, match="columns \\['extra'\\] the model was not trained with"):
        tfdata.balance(extra, churn_model, label_key="churn", seed=0)
    with pytest.raises(VAEAugmentError, match="class_counts"):
        tfdata.balance(real, churn_model, label_key="churn", seed=0, class_counts={"yes": -1})
    # a label the model does not know fails the iteration, naming the column
    unknown = real.map(lambda d: {**d, "churn": tf.fill(tf.shape(d["churn"]), "maybe")})
    ds = tfdata.balance(unknown, churn_model, label_key="churn", seed=0, batch_size=10)
    with pytest.raises(tf.errors.InvalidArgumentError, match="holds a class the model does not know"):
        next(iter(ds))


def _with_unknown_label(d):
    """Batch element 5's label (not the first ones) becomes 'zzz'."""
    label = d["label"]
    return {**d, "label": tf.where(tf.range(tf.shape(label)[0]) == 5, "zzz", label)}


@pytest.mark.parametrize("api", ["balance", "augment_fn"])
def test_null_labels_dropped_and_unknown_classes_named_alike(api, mixed_model, mixed_table,
                                                              tmp_path):
    """`augment_fn` applies `balance`'s rule to real rows: null labels dropped (and not
    counted when sizing the generated rows), an unknown class fails naming the value."""
    labels = mixed_table.column("label").to_pylist()
    null = np.arange(len(labels)) % 7 == 3
    table = mixed_table.set_column(
        mixed_table.schema.get_field_index("label"), mixed_table.schema.field("label"),
        pa.array([None if n else v for v, n in zip(labels, null)], pa.string()))
    pq.write_table(table, tmp_path / "nulls.parquet")
    real = tfdata.read_parquet(str(tmp_path / "nulls.parquet"), 100)
    if api == "balance":
        ds = tfdata.balance(real, mixed_model, label_key="label", seed=0, batch_size=100,
                            flag_key="syn", synthetic_batch_size=64)
    else:  # ratio 1: exactly one generated row per kept real row
        ds = real.map(tfdata.augment_fn(mixed_model, label_key="label", ratio=1.0, seed=0,
                                        flag_key="syn"))
    batches = list(ds)
    out = np.concatenate([b["label"].numpy() for b in batches])
    syn = np.concatenate([b["syn"].numpy() for b in batches])
    assert (~syn).sum() == (~null).sum() and b"" not in set(out)
    if api == "augment_fn":
        assert syn.sum() == (~null).sum()
    bad = real.map(_with_unknown_label)
    if api == "balance":
        bad = tfdata.balance(bad, mixed_model, label_key="label", seed=0, batch_size=10)
    else:
        bad = bad.map(tfdata.augment_fn(mixed_model, label_key="label", seed=0))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="holds a class the model does not know.*unknown values:.*zzz"):
        list(bad)


def test_a_label_of_another_integer_width_is_taken(digits_model):
    """An int32 label (Spark writes them) for a model of int64 classes was refused, though
    the features of another width were taken (session 49): it is taken, and the balanced
    rows are the int64 stream's in int32. A float or unsigned label is still refused, and
    so is a width that cannot hold every class."""
    from vae_augment.tfdata import _artifact, _check_spec, _structure

    real = tfdata.read_parquet(str(DIGITS), 64)
    narrow = real.map(lambda d: {**d, "label": tf.cast(d["label"], tf.int32)})
    rows = {}
    for name, ds in (("wide", real), ("narrow", narrow)):
        rows[name] = next(iter(tfdata.balance(ds, digits_model, label_key="label", seed=0,
                                              batch_size=512, flag_key="syn")))
    assert rows["narrow"]["label"].dtype == tf.int32 and rows["narrow"]["syn"].numpy().any()
    np.testing.assert_array_equal(rows["narrow"]["label"].numpy(), rows["wide"]["label"].numpy())
    np.testing.assert_array_equal(rows["narrow"]["syn"].numpy(), rows["wide"]["syn"].numpy())
    aug = next(iter(narrow.map(tfdata.augment_fn(digits_model, label_key="label", seed=0,
                                                 flag_key="syn"))))
    assert aug["label"].dtype == tf.int32 and aug["syn"].numpy().any()
    assert set(aug["label"].numpy().tolist()) <= set(range(10))

    for dtype in (tf.float32, tf.uint8):
        wrong = real.map(lambda d, t=dtype: {**d, "label": tf.cast(d["label"], t)})
        match = f"'label': real TensorSpec\\(shape=\\(\\), dtype=tf.{dtype.name}.*dtype=tf.int64"
        with pytest.raises(SchemaError, match=match):
            tfdata.balance(wrong, digits_model, label_key="label", seed=0)
        with pytest.raises(SchemaError, match=match):
            wrong.map(tfdata.augment_fn(digits_model, label_key="label", seed=0))

    int8 = real.map(lambda d: {**d, "label": tf.cast(d["label"], tf.int8)}).element_spec
    art = _artifact(digits_model)
    cols, masks, batched = _structure(art, int8, "label", None, "dataset")
    classes = list(art.encoding.classes)
    assert _check_spec(int8, cols, masks, batched, "dataset", "label", classes) == {
        "label": tf.int8}
    with pytest.raises(SchemaError, match=r"dtype int8, which cannot hold the model's "
                                          r"class\(es\) \[300\]: cast it to int64"):
        _check_spec(int8, cols, masks, batched, "dataset", "label", [*classes, 300])


def test_balance_cardinality_is_unknown(mixed_model, mixed_parquet):
    real = tfdata.read_parquet(str(mixed_parquet), 100)
    for kwargs in [{"batch_size": 64}, {"mix_rows": 16, "reseed_each_epoch": True}]:
        ds = tfdata.balance(real, mixed_model, label_key="label", seed=0, **kwargs)
        assert ds.cardinality().numpy() == tf.data.UNKNOWN_CARDINALITY, kwargs
        assert ds.take(1000).cardinality().numpy() == tf.data.UNKNOWN_CARDINALITY, kwargs
        # the synthetic streams' one-thread setting does not leak into the user's pipeline
        assert ds.options().threading.max_intra_op_parallelism is None, kwargs
    with pytest.raises(TypeError, match="unknown"):
        len(ds)


def test_class_keys_are_normalised(mixed_model, mixed_parquet, digits_model):
    """bytes (as counted from a stream's labels), string forms and numpy scalars name classes
    in `class_counts`, `sampling_strategy` and `synthetic_dataset` alike."""
    real = tfdata.read_parquet(str(mixed_parquet), 100)
    labels = _labels(real, "label")
    counted = dict(zip(*np.unique(labels, return_counts=True)))  # {b"a": np.int64(...)}
    plain = {k.decode(): int(v) for k, v in counted.items()}

    def first(**kwargs):
        ds = tfdata.balance(real, mixed_model, label_key="label", seed=0, batch_size=50,
                            synthetic_batch_size=32, **kwargs)
        return _labels(ds.take(2), "label")

    target = {"a": 0.5, "b": 0.25, "c": 0.25}
    want = first(class_counts=plain, sampling_strategy=target)
    odd = {b"a": np.float32(0.5), np.str_("b"): 0.25, "c": np.float64(0.25)}
    np.testing.assert_array_equal(first(class_counts=counted, sampling_strategy=odd), want)
    with pytest.raises(VAEAugmentError, match="`sampling_strategy` names class 'zz', which the "
                       "model does not know"):  # the Python API's words (map_strategy_keys)
        first(sampling_strategy={"zz": 0.5, "a": 0.5})
    with pytest.raises(SchemaError, match="`class_counts` names class 'zz'"):
        first(class_counts={b"zz": 3})
    syn = tfdata.synthetic_dataset(mixed_model, b"c", batch_size=8, seed=0, n=8)
    assert set(_labels(syn, "label")) == {b"c"}
    # an int-labelled model: "9", np.int64(9) and 9 are one class everywhere
    w = tfdata.mixture_weights
    counts = {int(k): v for k, v in digits_model.encoding.class_counts.items()}
    top = max(counts.values())
    classes = digits_model.encoding.classes
    want = w(counts, {9: top}, classes=classes)
    for key in ["9", np.int64(9), b"9"]:
        strategy = tfdata._strategy(digits_model.encoding, {key: top})
        assert w(counts, strategy, classes=classes) == want
    got = tfdata._counts(digits_model.encoding, {"9": 5, np.int64(3): 7, b"9": 1})
    assert got[9] == 6 and got[3] == 7 and sum(got.values()) == 13


# ---------------------------------------------------------------------- augment_fn
def test_augment_fn_appends_rows_towards_the_target(churn_model):
    real = tfdata.read_parquet(str(CHURN), 250)
    fn = tfdata.augment_fn(churn_model, label_key="churn", seed=0, flag_key="is_synthetic")
    ds = real.map(fn, num_parallel_calls=tf.data.AUTOTUNE)
    batches = list(ds)
    assert len(batches) == 20
    ratio = 3586 / 5000  # "auto": 4293 - 707 rows to add per 5000 real rows
    sizes = [len(b["churn"]) for b in batches]
    assert all(250 < s < 250 * (1 + 2 * ratio) for s in sizes)
    labels = np.concatenate([b["churn"].numpy() for b in batches])
    flags = np.concatenate([b["is_synthetic"].numpy() for b in batches])
    assert (~flags).sum() == 5000 and set(labels[flags]) == {b"yes"}
    assert abs(flags.sum() - 3586) <= 4 * math.sqrt(3586)
    first = batches[0]
    assert not first["is_synthetic"][:250].numpy().any() and first["is_synthetic"][250:].numpy().all()
    # stateless: the same batch gets the same rows, whatever the map's parallelism
    again = list(real.map(fn))
    np.testing.assert_array_equal(again[3]["total_day_minutes"], batches[3]["total_day_minutes"])
    # enumerated form: the seed comes from the index
    enum = list(real.enumerate().map(fn).take(2))
    assert len(enum[0]["churn"]) > 250


def test_augment_fn_explicit_ratio_and_errors(mixed_model, mixed_parquet):
    fn = tfdata.augment_fn(mixed_model, label_key="label", ratio=1.0, seed=1)
    real = tfdata.read_parquet(str(mixed_parquet), 100, null_masks=True)
    out = list(real.map(fn))
    assert sum(len(b["label"]) for b in out) == pytest.approx(600, abs=4 * math.sqrt(300))
    assert out[0]["img"].shape[1:] == (8, 8) and out[0]["img"].dtype == tf.uint8
    with pytest.raises(SchemaError, match="call `.batch\\(...\\)` first"):
        real.unbatch().map(fn)
    wrong = real.map(lambda d: {**d, "i": tf.cast(d["i"], tf.float32)})
    with pytest.raises(SchemaError, match="'i': real TensorSpec\\(shape=\\(\\), dtype=tf.float32.* "
                       "vs synthetic TensorSpec\\(shape=\\(\\), dtype=tf.int64"):
        wrong.map(fn)
    with pytest.raises(VAEAugmentError, match="`ratio` must be a non-negative number"):
        tfdata.augment_fn(mixed_model, label_key="label", ratio=-1, seed=0)
    # checked when built, as `balance` does
    with pytest.raises(SchemaError, match="`label_key` 'lable' is not the model's label"):
        tfdata.augment_fn(mixed_model, label_key="lable", seed=0)
    # an existing column is not overwritten by the flag
    flagged = tfdata.augment_fn(mixed_model, label_key="label", seed=0, flag_key="f")
    with pytest.raises(SchemaError, match="`flag_key` 'f' is already a key of the batch"):
        real.map(flagged)
    # (features, label) tuples: a clear error naming what it maps
    with pytest.raises(SchemaError, match="maps feature dicts .*`.enumerate\\(\\)`; got "
                       "elements \\(dict, Tensor\\(string"):
        real.map(lambda d: (d, d["label"])).map(fn)


def test_augment_fn_rows_multiple_of(mixed_model, mixed_parquet):
    real = tfdata.read_parquet(str(mixed_parquet), 70)
    fn = tfdata.augment_fn(mixed_model, label_key="label", ratio=0.3, seed=0, rows_multiple_of=4)
    sizes = [len(b["label"]) for b in real.map(fn)]
    assert all(s % 4 == 0 for s in sizes) and sum(sizes) >= 300 * 1.3 - 8, sizes
    with pytest.raises(VAEAugmentError, match="`rows_multiple_of` must be a positive integer"):
        tfdata.augment_fn(mixed_model, label_key="label", seed=0, rows_multiple_of=0)


def test_balance_reseed_each_epoch(mixed_model, mixed_parquet):
    real = tfdata.read_parquet(str(mixed_parquet), 100)

    def epochs(reseed, n=2):
        ds = tfdata.balance(real, mixed_model, label_key="label", seed=0, batch_size=100,
                            flag_key="syn", reseed_each_epoch=reseed, synthetic_batch_size=64)
        out = []
        for _ in range(n):
            batches = list(ds)
            syn = np.concatenate([b["syn"].numpy() for b in batches])
            f = np.concatenate([b["f32"].numpy() for b in batches])
            out.append((f[syn], np.sort(f[~syn])))
        return out

    (a1, r1), (a2, r2) = epochs(True)
    np.testing.assert_array_equal(r1, r2)  # every real row once per epoch
    assert not np.array_equal(a1[: min(len(a1), len(a2))], a2[: min(len(a1), len(a2))])
    [(b1, _)] = epochs(True, n=1)  # deterministic: the n-th epoch is the same every run
    np.testing.assert_array_equal(a1, b1)


# ---------------------------------------------------------------------- Keras end to end
def _churn_xy(numeric):
    def to_xy(d):
        x = tf.stack([tf.cast(d[c], tf.float32) for c in numeric], axis=1)
        return x, tf.cast(tf.equal(d["churn"], "yes"), tf.float32)

    return to_xy


@pytest.mark.filterwarnings("ignore:Your input ran out of data")  # unknown-length stream
def test_keras_classifier_trains_from_balance(churn_model):
    import keras

    table = pq.read_table(CHURN)
    numeric = [f.name for f in table.schema if pa.types.is_integer(f.type) or pa.types.is_floating(f.type)]
    to_xy = _churn_xy(numeric)
    real = tfdata.read_parquet(str(CHURN), 256)
    features = np.stack([table.column(c).to_numpy().astype(np.float32) for c in numeric], 1)

    def train(ds):
        keras.utils.set_random_seed(0)
        norm = keras.layers.Normalization()
        norm.adapt(features)
        clf = keras.Sequential([keras.Input((len(numeric),)), norm,
                                keras.layers.Dense(16, activation="relu"),
                                keras.layers.Dense(1, activation="sigmoid")])
        clf.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy")
        history = clf.fit(ds.map(to_xy), epochs=3, verbose=0, shuffle=False)
        return clf, history.history["loss"]

    balanced = tfdata.balance(real, churn_model, label_key="churn", seed=0, batch_size=256)
    clf, losses = train(balanced)
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    baseline, _ = train(real)
    positive_rate = lambda m: float((m.predict(features, verbose=0) > 0.5).mean())  # noqa: E731
    # trained on balanced batches, the classifier predicts the minority class far more often
    assert positive_rate(clf) > positive_rate(baseline) + 0.05


# ---------------------------------------------------------------------- images
@pytest.mark.filterwarnings("ignore:Your input ran out of data")  # unknown-length stream
def test_images_balance_digits(digits_model):
    real = tfdata.read_parquet(str(DIGITS), 64)
    assert real.element_spec["image"] == tf.TensorSpec([None, 8, 8], tf.uint8)
    syn = tfdata.synthetic_dataset(digits_model, 9, batch_size=64, seed=0, n=64)
    img = next(iter(syn))["image"].numpy()
    assert img.shape == (64, 8, 8) and img.dtype == np.uint8 and img.max() <= 16
    ds = tfdata.balance(real, digits_model, label_key="label", seed=0, batch_size=64)
    labels = _labels(ds, "label")
    n = len(labels)
    assert n > 1500  # 10 classes up to the majority's 178 rows
    for c in range(10):
        assert abs(np.mean(labels == c) - 0.1) <= _tolerance(0.1, n), c
    # a tiny convolutional classifier trains on the balanced image stream
    import keras

    keras.utils.set_random_seed(0)
    clf = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Rescaling(1 / 16),
                            keras.layers.Conv2D(8, 3, activation="relu"),
                            keras.layers.Flatten(), keras.layers.Dense(10)])
    clf.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    xy = ds.map(lambda d: (tf.cast(d["image"], tf.float32)[..., None], d["label"]))
    losses = clf.fit(xy, epochs=2, verbose=0, shuffle=False).history["loss"]
    assert np.isfinite(losses).all() and losses[-1] < losses[0]


def test_module_exports():
    assert set(tfdata.__all__) >= {"read_parquet", "synthetic_dataset", "balance", "augment_fn"}
    assert json.dumps(tfdata.fill_value(np.int64)) == "-1"
    assert tfdata.fill_value(tf.string) == b"" and tfdata.fill_value(tf.bool) is False


def test_balance_draws_every_class_from_one_synthetic_stream(mixed_model, mixed_parquet,
                                                             monkeypatch):
    """One stream for all classes: each stream instantiates the generator's graph on every
    iteration (about 0.17 s with digits' decoder), which ten classes paid every epoch."""
    from vae_augment import tfdata_synthetic

    traced = []
    real_features = tfdata_synthetic._synthetic_features

    def counting(art, y, *args):
        traced.append(y)
        return real_features(art, y, *args)

    monkeypatch.setattr(tfdata_synthetic, "_synthetic_features", counting)
    ds = tfdata.balance(tfdata.read_parquet(str(mixed_parquet), 100), mixed_model,
                        label_key="label", seed=0, batch_size=None)
    assert len(traced) == 1  # two minority classes, one generator
    labels = _labels(ds.batch(10_000), "label")
    counts = {c: int(np.sum(labels == c)) for c in (b"a", b"b", b"c")}
    assert counts[b"b"] > 0.5 * counts[b"a"] and counts[b"c"] > 0.5 * counts[b"a"]
    # block sizes follow the epoch's need: the next power of two, within [64, most]
    assert [tfdata._block_rows(n, 1024) for n in (3, 100, 128, 129, 5000, math.inf)] == [
        64, 128, 128, 256, 1024, 1024]
    assert tfdata._block_rows(10, 32) == 32


def test_a_bool_label_without_its_null_mask_is_warned_about(tmp_path):
    """A bool label's null fill value (False) is a class: null labels are dropped only with
    the label's null mask, and without it `balance` says so instead of keeping them as False."""
    import warnings

    from vae_augment.api import fit

    rng = np.random.default_rng(0)
    y = [bool(v) for v in rng.random(200) < 0.3]
    y[:10] = [None] * 10
    table = pa.table({"x": rng.normal(size=200), "churned": pa.array(y, pa.bool_())})
    pq.write_table(table, tmp_path / "b.parquet")
    model = fit(table, label="churned", epochs=1, hidden=(8,), latent_dim=2, verbose=0)
    with pytest.warns(UserWarning, match=r"null fill value \(False\) is one of the model's classes"):
        tfdata.balance(tfdata.read_parquet(str(tmp_path / "b.parquet"), 50), model,
                       label_key="churned", seed=0, batch_size=50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = tfdata.balance(tfdata.read_parquet(str(tmp_path / "b.parquet"), 50, null_masks=True),
                            model, label_key="churned", seed=0, batch_size=50, flag_key="syn")
    real = sum(int((~b["syn"].numpy()).sum()) for b in ds)
    assert real == 190  # the 10 null labels dropped


def test_tuple_elements_are_refused_in_one_short_line(mixed_model):
    import tensorflow as tf

    pairs = tf.data.Dataset.from_tensor_slices(({"x": np.zeros((4, 3))}, np.zeros(4)))
    with pytest.raises(SchemaError, match=r"got elements of tuples of 2 \(dict, TensorSpec\); "
                                          r"balance before splitting off the label") as exc:
        tfdata.balance(pairs, mixed_model, label_key="label", seed=0)
    assert len(str(exc.value)) < 300


def test_rounded_decimals_are_the_nearest_doubles(tmp_path):
    """A column observed with 1 decimal comes out as the doubles nearest those decimals (a
    traced graph's 1/10 multiplication gave 236.20000000000002), from the CLI's sampler and
    the tf.data stream alike."""
    from vae_augment.api import fit, sample

    rng = np.random.default_rng(0)
    x = np.round(rng.normal(200, 30, 400), 1)
    table = pa.table({"x": x, "label": np.repeat(["a", "b"], [300, 100])})
    art = fit(table, label="label", epochs=2, hidden=(8,), latent_dim=2, verbose=0)
    got = sample(art, {"b": 3000}, seed=1).column("x").to_numpy()
    np.testing.assert_array_equal(got, np.round(got * 10) / 10)
    stream = tfdata.synthetic_dataset(art, "b", batch_size=BLOCK_ROWS, seed=1, n=3000)
    np.testing.assert_array_equal(np.concatenate([b["x"].numpy() for b in stream]), got)


@pytest.mark.parametrize("seed", [2**32, -1])
def test_a_seed_outside_32_bits_is_refused_not_wrapped(mixed_artifact, seed):
    """Generation uses a seed's low 32 bits: 2**32 gave seed 0's rows and -1 those of
    2**32 - 1 (session 30's audit). Every entry point refuses them, as training does."""
    from vae_augment.api import sample
    from vae_augment.errors import VAEAugmentError

    with pytest.raises(VAEAugmentError, match=r"`seed` must be an integer in \[0, 2\*\*32 - 1\]"):
        tfdata.synthetic_dataset(str(mixed_artifact), "a", batch_size=8, seed=seed, n=8)
    with pytest.raises(VAEAugmentError, match=r"`seed` must be an integer in \[0, 2\*\*32 - 1\]"):
        sample(str(mixed_artifact), {"a": 8}, seed=seed)


def test_columns_listed_twice_or_empty_are_refused_up_front(mixed_parquet, mixed_model):
    """`columns=["f", "f"]` built a dataset whose first batch failed inside the generator
    (pyarrow's "field names are not matching" in a py_function traceback) and `columns=[]`
    (or a generator, consumed by the name check) one that failed with an EagerPyFunc dump."""
    for read in (lambda c: tfdata.read_parquet(str(mixed_parquet), 10, columns=c),
                 lambda c: tfdata.synthetic_dataset(mixed_model, "a", batch_size=8, seed=0,
                                                    columns=c)):
        with pytest.raises(SchemaError, match=r"`columns` names \['f'\] more than once"):
            read(["f", "i", "f"])
        with pytest.raises(SchemaError, match="`columns` is empty"):
            read([])
        assert list(next(iter(read(c for c in ["f", "label"])))) == ["f", "label"]


def test_a_dataset_that_is_not_one_and_a_flag_key_that_is_no_name_are_named(mixed_model,
                                                                            mixed_parquet):
    """A table or dict passed as `dataset` failed with AttributeError 'element_spec', and a
    non-str `flag_key` with "'<' not supported between instances of 'int' and 'str'"."""
    real = tfdata.read_parquet(str(mixed_parquet), 10)
    for data in (pq.read_table(mixed_parquet), {"label": ["a"]}):
        with pytest.raises(VAEAugmentError, match="`dataset` must be a tf.data.Dataset"):
            tfdata.balance(data, mixed_model, label_key="label", seed=0)
    with pytest.raises(VAEAugmentError, match="`flag_key` must be None or a column name"):
        tfdata.balance(real, mixed_model, label_key="label", seed=0, flag_key=1)
    with pytest.raises(VAEAugmentError, match="`flag_key` must be None or a column name"):
        tfdata.augment_fn(mixed_model, label_key="label", seed=0, flag_key=True)


def test_unknown_classes_are_listed_once_each(churn_model):
    """The failed check listed the unknown label of every row ("[Yes Yes Yes Yes ...]", 20
    shown), so a second unknown value hid behind the first."""
    real = tfdata.read_parquet(str(CHURN), 100)
    renamed = real.map(lambda d: {**d, "churn": tf.where(
        d["churn"] == "yes", "Yes", tf.where(tf.range(tf.size(d["churn"])) % 7 == 0, "NO", d["churn"]))})
    ds = tfdata.balance(renamed, churn_model, label_key="churn", seed=0, batch_size=100)
    with pytest.raises(tf.errors.InvalidArgumentError) as exc:
        next(iter(ds))
    values = str(exc.value).split("unknown values:")[1].split("]")[1]
    assert sorted(values.strip(" [").split()) == ["NO", "Yes"], values


@pytest.mark.parametrize("batch_size", [1, 7, 100, 1000])
def test_read_parquet_knows_its_length(tmp_path, mixed_model, mixed_table, batch_size):
    """The real stream's `cardinality()` was UNKNOWN although the footers hold the row count:
    no `len()`, and Keras showed "Unknown" steps and warned that the input ran out of data."""
    for i, (start, rows) in enumerate([(0, 120), (120, 0), (120, 180)]):
        pq.write_table(mixed_table.slice(start, rows), tmp_path / f"part{i}.parquet")
    real = tfdata.read_parquet(str(tmp_path), batch_size)
    batches = math.ceil(300 / batch_size)
    assert len(real) == batches == sum(1 for _ in real)
    fn = tfdata.augment_fn(mixed_model, label_key="label", seed=0)
    assert real.map(fn).cardinality().numpy() == batches


def test_a_global_mixed_precision_policy_does_not_change_the_rows(mixed_artifact):
    """A Keras user's `set_global_policy("mixed_float16")` made a model loaded afterwards
    generate in float16: other rows than the CLI's (rounded values off by one step, codes
    flipped) from `synthetic_dataset`, `balance` and `augment_fn`."""
    import keras

    def rows():
        stream = tfdata.synthetic_dataset(str(mixed_artifact), "a", batch_size=500, seed=0)
        return next(iter(stream))

    want = rows()
    before = keras.config.dtype_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        got = rows()
        assert keras.config.dtype_policy().name == "mixed_float16"  # the caller's, kept
    finally:
        keras.config.set_dtype_policy(before)
    for k, v in want.items():
        np.testing.assert_array_equal(got[k].numpy(), v.numpy(), err_msg=k)


def test_a_list_as_the_class_is_named(mixed_model):
    """`synthetic_dataset(model, ["a"], ...)` (one class per stream) failed with
    "TypeError: unhashable type: 'list'"."""
    with pytest.raises(SchemaError, match=r"`label` names class \['a'\], which is not one of"):
        tfdata.synthetic_dataset(mixed_model, ["a"], batch_size=8, seed=0)


def test_readme_names_every_argument_of_the_tf_data_functions():
    """README's tf.data section showed `balance`, `augment_fn` and `synthetic_dataset` without
    `flag_key`, `synthetic_batch_size`, `columns` ... (`flag_key` was nowhere in it)."""
    import inspect

    text = (REPO / "README.md").read_text()
    section = text.split("\n## tf.data\n")[1].split("\n## ")[0]
    for name in ["read_parquet", "synthetic_dataset", "balance", "augment_fn"]:
        for arg in inspect.signature(getattr(tfdata, name)).parameters:
            assert arg in section, (name, arg)


def test_read_parquet_takes_a_variable_length_image_column_as_scoring_does(
        tmp_path, mixed_table, mixed_parquet, mixed_model):
    """A list<uint8> image column (which `score` and the Beam transforms take) was refused
    ("which tf.data feature dicts do not support"): it reads as the fixed-size list does (its
    size its first row's, the schema's `image_shape` shaping it), so `balance` takes it; a
    row of another length is a SchemaError naming the column, the row's position in the
    input and the lengths; without any metadata it is a flat vector (see
    tests/test_list_training.py)."""
    from .test_cli_score import _variable_length_images

    var, ragged = tmp_path / "var.parquet", tmp_path / "ragged.parquet"
    pq.write_table(_variable_length_images(mixed_table), var)
    pq.write_table(_variable_length_images(mixed_table, short=(70, 90)), ragged)
    fixed = tfdata.read_parquet(str(mixed_parquet), 64)
    got = tfdata.read_parquet(str(var), 64)
    assert got.element_spec == fixed.element_spec
    for a, b in zip(fixed, got):
        np.testing.assert_array_equal(a["img"].numpy(), b["img"].numpy())
    rows = sum(int(tf.shape(b["label"])[0])
               for b in tfdata.balance(got, mixed_model, label_key="label", seed=0,
                                       batch_size=256))
    assert rows > mixed_table.num_rows
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"column 'img' has lists of another length than its 64 values "
                             r"\(the length of its first non-null row, row 0 of the input; "
                             r"shape \[8, 8\]\) \(2 rows of this batch; the first is row 70 "
                             r"of the input, which holds 10\)"):
        list(tfdata.read_parquet(str(ragged), 64))


def test_balance_and_augment_take_numbers_of_another_width(mixed_model, mixed_table, tmp_path):
    """A file of int32 / float32 columns (Spark's ints; a user's cast to float32) for a model of
    int64 / float64 was refused ("'i': real TensorSpec(..., tf.int32) vs synthetic ...
    tf.int64"), though `balance` and the CLI take it (session 49's audit). The synthetic rows
    now come in the real rows' dtypes, the same rows as for the model's own widths."""
    import tensorflow as tf

    narrow = mixed_table.drop_columns(["img"])
    narrow = narrow.cast(pa.schema([f.with_type({"i": pa.int32(), "f": pa.float32()}.get(
        f.name, f.type)) for f in narrow.schema]))
    pq.write_table(mixed_table.drop_columns(["img"]), tmp_path / "wide.parquet")
    pq.write_table(narrow, tmp_path / "narrow.parquet")
    out = {}
    for name in ("wide", "narrow"):
        real = tfdata.read_parquet(str(tmp_path / f"{name}.parquet"), 64)
        first = next(iter(tfdata.balance(real, mixed_model, label_key="label", seed=1,
                                         batch_size=256, flag_key="syn")))
        aug = next(iter(real.map(tfdata.augment_fn(mixed_model, label_key="label", seed=1,
                                                   flag_key="syn"))))
        out[name] = (first, aug)
    for wide, narrow_ in zip(out["wide"], out["narrow"]):
        assert narrow_["i"].dtype == tf.int32 and narrow_["f"].dtype == tf.float32
        assert wide["i"].dtype == tf.int64 and wide["f"].dtype == tf.float64
        assert narrow_["syn"].numpy().any()
    # `balance` draws the same rows whatever the widths (`augment_fn` seeds each batch from
    # its bytes, so its rows differ with them)
    wide, narrow_ = out["wide"][0], out["narrow"][0]
    np.testing.assert_array_equal(narrow_["syn"].numpy(), wide["syn"].numpy())
    np.testing.assert_array_equal(narrow_["i"].numpy(), wide["i"].numpy().astype(np.int32))
    np.testing.assert_array_equal(narrow_["f"].numpy(), wide["f"].numpy().astype(np.float32))
    # a narrower integer type: synthetic values clipped to its range, as `balance` writes them
    from vae_augment.tfdata import _as_real

    got = _as_real({"i": tf.constant([-500, 3, 999], tf.int64)}, {"i": tf.int8})["i"]
    assert got.dtype == tf.int8 and got.numpy().tolist() == [-128, 3, 127]
