"""Property tests (hypothesis) over generated Arrow schemas and tables, nulls included.

* Every real input row comes out of `balance` exactly once, in order, byte-identical (floats
  compared bit for bit), with the input schema and metadata kept.
* The real-row path alone (Parquet read -> `real_with_flag` -> `AtomicParquetWriter`) and the
  encoding (`fit_encoding` -> `encode` -> `decode_tf` -> `to_arrow`, JSON round trip) are checked
  on many more generated tables, since they need no training.

Examples are derandomised (the same generated tables on every run) so CI is reproducible.
"""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import FAST

# example counts (quoted in benchmarks/results/reliability.md)
IO_EXAMPLES = 150
ENCODING_EXAMPLES = 100
BALANCE_EXAMPLES = 6

COMMON = dict(deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

INT_TYPES = [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32()]
FEATURE_KINDS = ["int", "small_int", "float", "string", "bool", "dictionary", "null"]


@st.composite
def _mask(draw, n: int, allow_nulls: bool):
    if not allow_nulls or not draw(st.booleans()):
        return None
    mask = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return mask if any(mask) else None


@st.composite
def _feature(draw, n: int, kind: str, allow_nulls: bool = True):
    """One feature column: (array, nullable)."""
    mask = draw(_mask(n, allow_nulls))
    if kind == "null":
        return pa.nulls(n), True
    if kind in ("int", "small_int"):
        typ = draw(st.sampled_from(INT_TYPES))
        info = np.iinfo(typ.to_pandas_dtype())
        ints = st.integers(max(0, int(info.min)), min(5, int(info.max))) if kind == "small_int" \
            else st.integers(int(info.min), int(info.max))
        values = draw(st.lists(ints, min_size=n, max_size=n))
        arr = pa.array(values, typ, mask=None if mask is None else np.array(mask))
    elif kind == "float":
        width = draw(st.sampled_from([32, 64]))
        floats = st.floats(allow_nan=False, allow_infinity=False, width=width)
        values = draw(st.lists(floats, min_size=n, max_size=n))
        arr = pa.array(np.array(values, np.float32 if width == 32 else np.float64),
                       mask=None if mask is None else np.array(mask))
    elif kind == "bool":
        values = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        arr = pa.array(values, pa.bool_(), mask=None if mask is None else np.array(mask))
    else:  # string or dictionary-encoded string, from a small pool (categories)
        pool = draw(st.lists(st.text(max_size=6), min_size=1, max_size=5, unique=True))
        values = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
        if mask is not None:
            values = [None if m else v for v, m in zip(values, mask)]
        arr = pa.array(values, pa.string())
        if kind == "dictionary":
            arr = arr.dictionary_encode()
    nullable = arr.null_count > 0 or draw(st.booleans())
    return arr, nullable


@st.composite
def _label(draw, n: int):
    kind = draw(st.sampled_from(["string", "int64", "int16", "dictionary", "bool"]))
    k = 2 if kind == "bool" else draw(st.integers(2, 3))
    if kind == "bool":
        classes = [False, True]
    elif kind.startswith("int"):
        classes = draw(st.lists(st.integers(-1000, 1000), min_size=k, max_size=k, unique=True))
    else:
        classes = draw(st.lists(st.text(min_size=1, max_size=5), min_size=k, max_size=k, unique=True))
    idx = list(range(k)) + draw(st.lists(st.integers(0, k - 1), min_size=n - k, max_size=n - k))
    values = [classes[i] for i in idx]
    if n > k and draw(st.booleans()):  # a few rows without a label: passed through, never modelled
        for pos in draw(st.lists(st.integers(k, n - 1), max_size=2)):
            values[pos] = None
    typ = {"int64": pa.int64(), "int16": pa.int16(), "bool": pa.bool_()}.get(kind, pa.string())
    arr = pa.array(values, typ)
    if kind == "dictionary":
        arr = arr.dictionary_encode()
    return arr


@st.composite
def tables(draw, min_rows: int = 3, max_rows: int = 30, max_extra: int = 4):
    """A table with a `label` column (>= 2 classes) and at least one modelled column."""
    n = draw(st.integers(min_rows, max_rows))
    names, arrays, nullable = [], [], []
    first_kind = draw(st.sampled_from([k for k in FEATURE_KINDS if k != "null"]))
    arr, nl = draw(_feature(n, first_kind, allow_nulls=False))
    names.append("x0"), arrays.append(arr), nullable.append(nl)
    for i in range(draw(st.integers(0, max_extra))):
        arr, nl = draw(_feature(n, draw(st.sampled_from(FEATURE_KINDS))))
        names.append(f"x{i + 1}"), arrays.append(arr), nullable.append(nl)
    label = draw(_label(n))
    pos = draw(st.integers(0, len(names)))
    names.insert(pos, "label"), arrays.insert(pos, label), nullable.insert(pos, True)
    fields = [pa.field(nm, a.type, nullable=nl) for nm, a, nl in zip(names, arrays, nullable)]
    metadata = {"source": "hypothesis"} if draw(st.booleans()) else None
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=metadata))


def _canonical(value):
    if isinstance(value, float):
        return ("f", struct.pack("<d", value).hex())  # bit for bit: -0.0 != 0.0
    return (type(value).__name__, value)


def canonical_rows(table: pa.Table) -> list[tuple]:
    """Rows as tuples of (type, exact value); floats by their IEEE bits (float32 widened exactly)."""
    cols = [[_canonical(v) for v in table.column(c).to_pylist()] for c in table.column_names]
    return list(zip(*cols))


def real_part(got: pa.Table) -> pa.Table:
    flag = got.column("is_synthetic")
    return got.filter(pc.invert(flag)).drop_columns(["is_synthetic"])


def write_parquet(table: pa.Table, directory: str) -> str:
    path = os.path.join(directory, "in.parquet")
    pq.write_table(table, path)
    return path


# ---------------------------------------------------------------------- many examples, no training
@settings(max_examples=IO_EXAMPLES, **COMMON)
@given(table=tables())
def test_real_row_path_is_exact(table):
    """Parquet in -> real_with_flag -> AtomicParquetWriter -> Parquet out: the same rows."""
    from vae_augment.api import real_with_flag
    from vae_augment.io import AtomicParquetWriter, iter_batches, output_schema, read_schema

    with tempfile.TemporaryDirectory() as d:
        src = write_parquet(table, d)
        schema = read_schema([src])
        out_schema = output_schema(schema)
        out = os.path.join(d, "out.parquet")
        with AtomicParquetWriter(out, out_schema) as w:
            w.write(real_with_flag(b, out_schema) for b in iter_batches([src], batch_size=7))
        got = pq.read_table(out)
        assert sorted(os.listdir(d)) == ["in.parquet", "out.parquet"]
    assert got.schema.equals(out_schema, check_metadata=True)
    assert got.column("is_synthetic").null_count == 0
    assert not pc.any(got.column("is_synthetic")).as_py()
    assert canonical_rows(real_part(got)) == canonical_rows(table)


def _close(a, b, typ) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, float):
        tol = 1e-6 if typ == pa.float32() else 1e-9
        return math.isclose(a, b, rel_tol=tol, abs_tol=tol * 1e-30)
    return a == b


@settings(max_examples=ENCODING_EXAMPLES, **COMMON)
@given(table=tables())
def test_encoding_round_trip(table):
    """fit_encoding -> encode (float64) -> decode_tf -> to_arrow gives back the labelled rows;
    the encoding survives a JSON round trip unchanged."""
    import tensorflow as tf

    from vae_augment.encoding import Encoding
    from vae_augment.training import fit_encoding

    enc = fit_encoding(table, "label")
    again = Encoding.from_json(json.loads(json.dumps(enc.to_json())))
    assert again.specs == enc.specs and again.classes == enc.classes
    assert again.layout() == enc.layout() and again.schema.equals(enc.schema, check_metadata=True)

    labelled = table.filter(pc.is_valid(table.column("label")))
    x = enc.encode(labelled, float_dtype=np.float64)
    gen = {k: tf.constant(v) for k, v in x.items() if k != "y"}
    decoded = {k: (v.numpy(), None if m is None else m.numpy())
               for k, (v, m) in enc.decode_tf(gen).items()}
    back = pa.Table.from_batches([enc.to_arrow(decoded, x["y"])]).drop_columns(["is_synthetic"])
    assert back.schema.equals(table.schema, check_metadata=True)
    kinds = {s.name: s for s in enc.specs}
    for name in table.column_names:
        want = labelled.column(name).to_pylist()
        got = back.column(name).to_pylist()
        spec = kinds.get(name)
        if name == "label" or spec.kind in ("categorical", "null"):
            assert got == want, name
            continue
        # a value between two knots comes back through float64's erfc and the knots'
        # interpolation: within about 1e-13 of the gap between them (session 43's knots
        # interpolate between the sorted values, so on a small table a value is no knot;
        # 56 beside 7.6e14 came back as 57), so within 1e-10 of the column's span
        present = [v for v in want if v is not None]
        span = (float(max(present)) - float(min(present))
                if present and spec.kind == "numeric" else 0.0)
        if spec.is_int:
            # integers come back exactly while float64 holds them and the span is under 5e9
            for a, b in zip(want, got):
                assert (a is None) == (b is None), name
                if a is not None and abs(a) <= 2**53:
                    assert a == b or abs(a - b) <= 1e-10 * span, (name, a, b)
        else:
            typ = table.schema.field(name).type
            assert all(_close(a, b, typ) or abs(a - b) <= 1e-10 * span
                       for a, b in zip(want, got)), (name, want, got)


# ---------------------------------------------------------------------- fewer examples, real balance
# the drawn tables often have classes of under 5 rows: the rare-class warning is expected
# there (tests/test_training_guards.py checks it), and is not what this test is about
@pytest.mark.filterwarnings("ignore:class\\(es\\).*have fewer than:vae_augment.errors.VAEAugmentWarning")
@settings(max_examples=BALANCE_EXAMPLES, **COMMON)
@given(table=tables(min_rows=8, max_rows=40, max_extra=3), seed=st.integers(0, 2**31 - 1))
def test_balance_keeps_every_real_row(table, seed):
    """A trained (tiny) model, then balance: real rows once, in order, bit-identical."""
    from vae_augment.api import balance
    from vae_augment.balancing import samples_to_generate

    fit_kwargs = dict(FAST, epochs=1, validation_split=0.0)
    with tempfile.TemporaryDirectory() as d:
        src = write_parquet(table, d)
        out = os.path.join(d, "out.parquet")
        summary = balance(src, out, label="label", seed=seed, fit_kwargs=fit_kwargs)
        got = pq.read_table(out)
        assert sorted(os.listdir(d)) == ["in.parquet", "out.parquet"]
    expected_schema = _schema_of(table).append(pa.field("is_synthetic", pa.bool_(), nullable=False))
    assert got.schema.equals(expected_schema, check_metadata=True)
    assert got.num_rows == summary["rows_written"] == table.num_rows + sum(summary["generated"].values())
    # the real rows are the first rows, unchanged, in order
    head = got.slice(0, table.num_rows)
    assert not pc.any(head.column("is_synthetic")).as_py()
    assert canonical_rows(real_part(got)) == canonical_rows(table)
    synth = got.filter(got.column("is_synthetic"))
    assert synth.column("label").null_count == 0
    labels = synth.column("label")
    if pa.types.is_dictionary(labels.type):
        labels = labels.cast(labels.type.value_type)
    counts = {}
    for v in labels.to_pylist():
        counts[v] = counts.get(v, 0) + 1
    assert {c: n for c, n in counts.items() if n} == {
        c: n for c, n in samples_to_generate(summary["counts_before"], "auto").items() if n}


def _schema_of(table: pa.Table) -> pa.Schema:
    """The schema a Parquet round trip gives (written to a temp file and read back)."""
    with tempfile.TemporaryDirectory() as d:
        path = write_parquet(table.slice(0, 0), d)
        schema = pq.read_schema(path)
    return schema


@pytest.mark.parametrize("label", ["../evil", "a/b", "/abs"])
def test_path_like_values_are_only_data(label, tmp_path):
    """Row preservation holds for values that look like paths (and nothing is created)."""
    from vae_augment.api import real_with_flag
    from vae_augment.io import AtomicParquetWriter, output_schema

    t = pa.table({"x": [1.0, 2.0, 3.0], "label": [label, "z", label]})
    out = tmp_path / "o.parquet"
    schema = output_schema(t.schema)
    with AtomicParquetWriter(str(out), schema) as w:
        w.write(real_with_flag(b, schema) for b in t.to_batches())
    assert os.listdir(tmp_path) == ["o.parquet"]
    assert canonical_rows(real_part(pq.read_table(out))) == canonical_rows(t)
