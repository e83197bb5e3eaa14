"""Generation blocks of models of large images: fewer rows per block (a 64x64x3 model
generated 8,192 images for a 5-row request, 8.7 GB; 128x128x3 crashed), the same rows from
the CLI's sampler, Beam's shards and a tf.data stream of the block's size."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from vae_augment.sampler import BLOCK_ROWS, Sampler, block_rows, plan_blocks


class _Spec:
    def __init__(self, shape):
        self.shape = shape


class _Enc:
    def __init__(self, *shapes):
        self.tensors = [_Spec(s) for s in shapes]


@pytest.mark.parametrize("shapes, rows", [
    ((), BLOCK_ROWS),                      # a table
    (([8, 8],), BLOCK_ROWS),               # digits
    (([28, 28],), BLOCK_ROWS),             # MNIST-sized: unchanged
    (([32, 32, 3],), 2048),
    (([64, 64, 3],), 512),
    (([128, 128, 3],), 128),
    (([512, 512],), 32),
    (([4096, 4096, 3],), 1),
])
def test_block_rows_shrink_with_the_tensor_size(shapes, rows):
    assert block_rows(_Enc(*shapes)) == rows


def test_plan_blocks_takes_the_models_block_size():
    assert plan_blocks(1100, 512) == [(0, 512), (1, 512), (2, 76)]
    assert plan_blocks(5) == [(0, 5)]


@pytest.fixture(scope="module")
def rgb_model(tmp_path_factory):
    from vae_augment.api import fit

    rng = np.random.default_rng(0)
    n = 60
    storage = pa.FixedSizeListArray.from_arrays(
        pa.array(rng.integers(0, 256, n * 32 * 32 * 3).astype(np.uint8)), 32 * 32 * 3)
    img = pa.ExtensionArray.from_storage(pa.fixed_shape_tensor(pa.uint8(), [32, 32, 3]), storage)
    table = pa.table({"img": img, "label": np.repeat(["a", "b"], [40, 20])})
    d = tmp_path_factory.mktemp("rgb") / "m"
    return fit(table, label="label", model_dir=str(d), epochs=1, hidden=(8,), latent_dim=2,
               verbose=0)


def test_large_image_rows_are_the_same_from_sampler_beam_and_tfdata(rgb_model):
    pytest.importorskip("apache_beam")
    import apache_beam as beam
    from apache_beam.testing.util import assert_that

    from vae_augment import tfdata
    from vae_augment.beam import GenerateSynthetic

    sampler = Sampler(rgb_model)
    assert sampler.block_rows == 2048
    n = 2500  # two blocks
    want = pa.Table.from_batches(list(sampler.iter_class("b", n, seed=4)))
    assert want.num_rows == n
    pixels = want.column("img").combine_chunks().storage.flatten().to_numpy()

    stream = tfdata.synthetic_dataset(rgb_model, "b", batch_size=2048, seed=4, n=n)
    got = np.concatenate([np.asarray(e["img"]).reshape(len(e["img"]), -1) for e in stream])
    np.testing.assert_array_equal(got.reshape(-1), pixels)

    with beam.Pipeline(runner="FnApiRunner") as p:
        out = p | GenerateSynthetic(rgb_model.path, {"b": n}, seed=4, rows_per_shard=2048)

        def check(tables):
            table = pa.concat_tables(tables)
            assert table.num_rows == n
            rows = sorted(table.column("img").combine_chunks().storage.to_pylist())
            assert rows == sorted(want.column("img").combine_chunks().storage.to_pylist())

        assert_that(out, check)


def test_a_tensor_past_the_size_limit_is_refused_before_training(tmp_path, capsys):
    import pyarrow.parquet as pq

    from vae_augment.cli import main

    n = 4
    storage = pa.FixedSizeListArray.from_arrays(pa.array(np.zeros(n * 512 * 512, np.uint8)),
                                                512 * 512)
    img = pa.ExtensionArray.from_storage(pa.fixed_shape_tensor(pa.uint8(), [512, 512]), storage)
    src = tmp_path / "huge.parquet"
    pq.write_table(pa.table({"img": img, "x": np.arange(n) * 1.0, "label": ["a", "b"] * 2}), src)
    code = main(["fit", str(src), "--label", "label", "--model-dir", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "tensor column 'img' holds 512x512 = 262,144 values per row" in err
    assert "--exclude img" in err and not (tmp_path / "m").exists()


def _list_table(size, field_meta=None, schema_meta=None):
    arr = pa.FixedSizeListArray.from_arrays(pa.array(np.zeros(4 * size, np.uint8)), size)
    return pa.table({"v": arr}).cast(pa.schema(
        [pa.field("v", arr.type, metadata=field_meta)], metadata=schema_meta))


def test_image_shape_metadata_that_does_not_fit_is_said():
    from vae_augment.errors import SchemaError
    from vae_augment.schema import tensor_shape

    def shape(t):
        return tensor_shape(t.schema.field("v"), t.schema)

    assert shape(_list_table(64, schema_meta={"image_shape": "8,8"})) == [8, 8]
    with pytest.raises(SchemaError, match=r"column 'v': its `image_shape` metadata '9,9' holds "
                                          r"81 values, the column 64 per row"):
        shape(_list_table(64, field_meta={"image_shape": "9,9"}))
    with pytest.warns(UserWarning, match=r"schema metadata image_shape '9,9' \(81 values\) does "
                                         r"not fit column 'v' \(64 values per row\)"):
        assert shape(_list_table(64, schema_meta={"image_shape": "9,9"})) == [64]
    with pytest.raises(SchemaError, match=r"'-8,-8' must be positive ints"):
        shape(_list_table(64, schema_meta={"image_shape": "-8,-8"}))
    zero = pa.schema([pa.field("v", pa.list_(pa.uint8(), 0))])  # no array can be built
    with pytest.raises(SchemaError, match=r"fixed-size list of size 0"):
        tensor_shape(zero.field("v"), zero)


def test_schema_image_shape_can_shape_columns_one_by_one():
    """Schema-level `image_shape` as a JSON object, shapes by column: two image columns of
    different shapes in one table (the shared "8,8" form cannot say so; the object was refused
    as "not a comma-separated list of ints"). A named column is shaped as by its own field
    metadata (a misfit is an error naming it); an unnamed one is flat, without a warning."""
    import warnings

    from vae_augment.errors import SchemaError
    from vae_augment.schema import tensor_shape

    fields = [pa.field("img", pa.list_(pa.uint8(), 64)), pa.field("rgb", pa.list_(pa.uint8(), 48)),
              pa.field("emb", pa.list_(pa.float32(), 64))]

    def shapes(meta):
        schema = pa.schema(fields, metadata={"image_shape": meta})
        return [tensor_shape(f, schema) for f in schema]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert shapes('{"img": [8, 8], "rgb": "4x4x3"}') == [[8, 8], [4, 4, 3], [64]]
        assert shapes(' {"rgb": [4, 4, 3]}') == [[64], [4, 4, 3], [64]]
        assert shapes("[8, 8]") == [[8, 8], [48], [8, 8]]  # JSON's list: the shared form
    with pytest.raises(SchemaError, match=r"column 'rgb': its entry in the schema's "
                                          r"`image_shape` metadata '4,4' holds 16 values, the "
                                          r"column 48 per row"):
        shapes('{"rgb": [4, 4]}')
    with pytest.raises(SchemaError, match=r"starts like a JSON object .* not valid JSON"):
        shapes('{"img": [8, 8]')
    with pytest.raises(SchemaError, match=r"the shape of column 'img' is 64; give a list of "
                                          r"ints"):
        shapes('{"img": 64}')
    with pytest.raises(SchemaError, match=r"'0,8' must be positive ints"):
        shapes('{"img": [0, 8]}')


def test_schema_image_shape_object_sizes_list_columns_and_names_typos(tmp_path):
    """Training and tf.data take a variable-length list's size and shape from its entry in the
    per-column object, as from field metadata: every row is checked against it (the error
    says where the size came from); a column the object names that the input lacks warns."""
    pytest.importorskip("tensorflow")
    import pyarrow.parquet as pq

    from vae_augment import tfdata
    from vae_augment.errors import SchemaError
    from vae_augment.preparation import fit_encoding

    n = 40
    rng = np.random.default_rng(0)
    table = pa.table({
        "img": pa.array(list(rng.integers(0, 255, (n, 16), dtype=np.uint8)), pa.list_(pa.uint8())),
        "rgb": pa.array(list(rng.integers(0, 255, (n, 12), dtype=np.uint8)), pa.list_(pa.uint8())),
        "y": ["a", "b"] * (n // 2),
    }).replace_schema_metadata({"image_shape": '{"img": [4, 4], "rgb": [2, 2, 3]}'})
    shapes = {s.name: s.shape for s in fit_encoding(table, "y").specs}
    assert shapes == {"img": [4, 4], "rgb": [2, 2, 3]}
    pq.write_table(table, tmp_path / "t.parquet")
    spec = tfdata.read_parquet(str(tmp_path / "t.parquet"), 8).element_spec
    assert spec["img"].shape.as_list() == [None, 4, 4]
    assert spec["rgb"].shape.as_list() == [None, 2, 2, 3]

    short = table.set_column(1, "rgb", pa.array([[1] * 12] * (n - 1) + [[1] * 9],
                                                pa.list_(pa.uint8())))
    with pytest.raises(SchemaError, match=r"column 'rgb' .* 12 values per row \(its entry in "
                                          r"the schema's `image_shape` metadata '2,2,3'\), and "
                                          r"row 39 holds 9"):
        fit_encoding(short, "y")
    typo = table.replace_schema_metadata({"image_shape": '{"img": [4, 4], "rbg": [2, 2, 3]}'})
    with pytest.warns(UserWarning, match=r"gives a shape for column 'rbg', which the input "
                                         r"does not have \(its columns: img, rgb, y\)"):
        shapes = {s.name: s.shape for s in fit_encoding(typo, "y").specs}
    assert shapes == {"img": [4, 4], "rgb": [12]}


def test_encode_keeps_its_latent_column_flat_under_a_schema_image_shape(tmp_path):
    from vae_augment.beam.rows import scored_schema
    from vae_augment.schema import tensor_shape

    schema = _list_table(16, schema_meta={"image_shape": "4,4"}).schema
    out = scored_schema(schema, latent_dim=16, latent_column="latent")
    assert tensor_shape(out.field("latent"), out) == [16]  # not a 4x4 image
    assert tensor_shape(out.field("v"), out) == [4, 4]
    plain = scored_schema(pa.schema([("x", pa.float64())]), latent_dim=16, latent_column="latent")
    assert plain.field("latent").metadata is None
