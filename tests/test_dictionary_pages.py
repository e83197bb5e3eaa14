"""Dictionary (categorical) columns are written as dictionary pages throughout.

`balance` writes the input's rows in the input's category order and then synthetic rows in the
model's. Written as one row group, chunks whose dictionaries differ made Arrow's Parquet writer
fall back to PLAIN pages for the rest of the column chunk: larger files, and a file Polars
(1.44) could not read ("Decoding ByteArray "Plain"-encoded optional parquet pages not yet
supported"). Every writer now gives a row group's chunks one dictionary."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vae_augment.io import AtomicParquetWriter, one_dictionary

from .conftest import FAST_ARGS, run_cli


def _two_orders(n: int = 2000) -> tuple[pa.Schema, pa.RecordBatch, pa.RecordBatch]:
    """Two batches of one dictionary column, the same two values in opposite orders."""
    rng = np.random.default_rng(0)
    t = pa.dictionary(pa.int32(), pa.string())
    a = pa.DictionaryArray.from_arrays(pa.array(rng.integers(0, 2, n), pa.int32()),
                                       pa.array(["z", "a"]))
    b = pa.DictionaryArray.from_arrays(pa.array(rng.integers(0, 2, n), pa.int32()),
                                       pa.array(["a", "z"]))
    schema = pa.schema([("c", t), ("x", pa.float64())])
    x = pa.array(rng.random(n))
    return (schema, pa.record_batch([a, x], schema=schema),
            pa.record_batch([b, x], schema=schema))


def _bytes_per_value(path, column: str = "c") -> float:
    """The most uncompressed bytes per value of `column` over the row groups of a Parquet
    file: under 1 for a two-valued column written as dictionary indices, 5 or more once its
    pages fall back to PLAIN (a 4-byte length and the text per value)."""
    meta = pq.ParquetFile(path).metadata
    i = meta.schema.names.index(column)
    return max(meta.row_group(g).column(i).total_uncompressed_size
               / meta.row_group(g).column(i).num_values for g in range(meta.num_row_groups))


def test_the_writer_gives_a_row_groups_chunks_one_dictionary(tmp_path):
    schema, a, b = _two_orders()
    plain = tmp_path / "arrow.parquet"
    with pq.ParquetWriter(plain, schema) as w:  # what the writer did: pyarrow's fallback
        w.write_table(pa.Table.from_batches([a, b]))
    assert _bytes_per_value(plain) > 2
    ours = tmp_path / "ours.parquet"
    with AtomicParquetWriter(ours, schema) as w:
        w.write(a)
        w.write(b)
    assert _bytes_per_value(ours) < 1
    back = pq.read_table(ours)
    assert back.column("c").to_pylist() == a.column(0).to_pylist() + b.column(0).to_pylist()
    assert back.schema.equals(schema)
    no_dict = pa.table({"x": [1.0]})
    assert one_dictionary(no_dict) is no_dict


def test_the_beam_sinks_give_a_tables_chunks_one_dictionary(tmp_path):
    beam = pytest.importorskip("apache_beam")
    from apache_beam.testing.test_pipeline import TestPipeline

    from pipelines import write_parquet
    from vae_augment.beam import WritePartitionedParquet

    schema, a, b = _two_orders()
    table = pa.Table.from_batches([a, b])
    keyed = table.append_column("k", pa.array(["p"] * table.num_rows))
    with TestPipeline(runner="FnApiRunner") as p:
        _ = write_parquet(p | "Plain" >> beam.Create([table]), str(tmp_path / "flat"), "rows",
                          schema, 1)
        _ = (p | "Keyed" >> beam.Create([keyed])
             | WritePartitionedParquet(str(tmp_path / "parts"), keyed.schema, ["k"]))
    for path in [*(tmp_path / "flat").glob("rows*.parquet"),
                 *(tmp_path / "parts").glob("k=p/*.parquet")]:
        assert _bytes_per_value(path) < 1, path
        assert pq.read_table(path).column("c").to_pylist() == table.column("c").to_pylist()


def test_balance_writes_real_and_synthetic_categories_as_one_dictionary(tmp_path):
    """The input's dictionary lists 'z' first; the model's categories come in its own order."""
    rng = np.random.default_rng(1)
    n = 600
    y = np.where(rng.random(n) < 0.25, "rare", "common")
    cat = pa.DictionaryArray.from_arrays(
        pa.array(np.where(rng.random(n) < 0.8, 1, 0), pa.int32()), pa.array(["z", "a"]))
    pq.write_table(pa.table({"c": cat, "x": rng.normal(size=n) + (y == "rare"), "y": y}),
                   tmp_path / "in.parquet")
    code, _, err = run_cli(["balance", str(tmp_path / "in.parquet"), str(tmp_path / "out.parquet"),
                            "--label", "y", "--seed", "0", *FAST_ARGS])
    assert code == 0, err
    out = pq.read_table(tmp_path / "out.parquet")
    assert out.num_rows > n and out.schema.field("c").type == cat.type
    assert _bytes_per_value(tmp_path / "out.parquet") < 1


def _ordered_table(n: int = 300) -> pa.Table:
    """An ordered size (S < M < L, 'XL' in no row) and an ordered label (low < high), both
    in an order that is not the sorted one, as pandas' ordered Categoricals write them."""
    rng = np.random.default_rng(2)
    size = pa.DictionaryArray.from_arrays(pa.array(rng.integers(0, 3, n), pa.int8()),
                                          pa.array(["S", "M", "L", "XL"]), ordered=True)
    label = pa.DictionaryArray.from_arrays(pa.array((rng.random(n) < 0.25).astype(np.int8)),
                                           pa.array(["low", "high"]), ordered=True)
    return pa.table({"size": size, "x": rng.normal(size=n), "y": label})


def test_synthetic_rows_keep_the_inputs_dictionary_order():
    """`sample` wrote the model's sorted categories (L, M, S) under the input's ordered=True
    type, so `size < 'L'` meant something else in the output (an interop audit)."""
    from vae_augment.api import fit, sample
    from vae_augment.preparation import fit_encoding
    from vae_augment.stats_merge import encoding_from_stats, merge_stats

    from .conftest import FAST

    table = _ordered_table()
    enc = fit_encoding(table, "y")
    size = next(s for s in enc.specs if s.name == "size")
    assert size.vocab == ["L", "M", "S"] and size.dictionary == ["S", "M", "L", "XL"]
    assert enc.classes == ["high", "low"] and enc.label_dictionary == ["low", "high"]
    # the Beam statistics pass: two halves merged give the same order
    from vae_augment.schema import SchemaStats

    halves = []
    for part in (table.slice(0, 150), table.slice(150)):
        st = SchemaStats(table.schema, "y")
        st.update(part)
        halves.append(st)
    merged = encoding_from_stats(merge_stats(*halves))
    assert merged.to_json() == enc.to_json()
    art = fit(table, label="y", seed=0, **FAST)
    out = sample(art, {"high": 40, "low": 40}, seed=1)
    assert out.schema.field("size").type == table.schema.field("size").type
    for name, order in (("size", ["S", "M", "L", "XL"]), ("y", ["low", "high"])):
        col = out.column(name).combine_chunks()
        assert col.dictionary.to_pylist() == order and col.type.ordered
    assert sorted(set(out.column("y").to_pylist())) == ["high", "low"]
    assert out.column("y").to_pylist().count("high") == 40
    # the encoding's JSON keeps both orders; one without them (an older model) reads as before
    from vae_augment.encoding import Encoding

    data = art.encoding.to_json()
    assert data["label_dictionary"] == ["low", "high"]
    del data["label_dictionary"]
    for f in data["features"]:
        f.pop("dictionary")
    old = Encoding.from_json(data)
    assert old.label_dictionary is None and all(s.dictionary is None for s in old.specs)
