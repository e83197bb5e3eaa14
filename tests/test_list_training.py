"""Training on an image column stored as a variable-length list (`list<uint8>`, as many
exporters write it) instead of `fixed_size_list<uint8>[64]`: it is trained as the fixed-size
list of its rows' size, `balance` writes it back as the input's list type, and `sample` as
the list type the model was trained from."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from tests.conftest import FAST, FAST_ARGS, make_mixed_table, run_cli
from vae_augment.errors import SchemaError
from vae_augment.preparation import fit_encoding


def _as_list(table: pa.Table, typ=None, *, short=(), nulls=(), metadata=None) -> pa.Table:
    """`table` with its image column as a variable-length list (`typ`, default list<uint8>)
    of its 64 values a row; the rows `short` hold 10, the rows `nulls` are null; `metadata`
    is the field's."""
    typ = typ or pa.list_(pa.uint8())
    img = np.stack(table.column("img").to_numpy(zero_copy_only=False))
    rows = [list(r) for r in img]
    for i in short:
        rows[i] = rows[i][:10]
    for i in nulls:
        rows[i] = None
    i = table.schema.get_field_index("img")
    return table.set_column(i, pa.field("img", typ, metadata=metadata), pa.array(rows, typ))


@pytest.fixture(scope="module")
def fixed() -> pa.Table:
    return make_mixed_table(200)


@pytest.fixture(scope="module")
def var(fixed) -> pa.Table:
    return _as_list(fixed)


def _without_schema_metadata(table: pa.Table) -> pa.Table:
    return table.replace_schema_metadata(None)


def _trained_json(encoding) -> dict:
    """`encoding`'s JSON without the list types it was trained from (`input_lists`): a
    list-trained encoding's is otherwise the fixed-size one's."""
    return {k: v for k, v in encoding.to_json().items() if k != "input_lists"}


@pytest.mark.parametrize("typ", [pa.list_(pa.uint8()), pa.large_list(pa.uint8())])
def test_a_list_column_is_fitted_as_the_fixed_size_list_of_its_rows(fixed, typ):
    """Training refused a list<uint8> image column ("unsupported type ... exclude it"): its
    statistics are now the fixed-size list's, the schema-level `image_shape` 8,8 applies to
    it as to a fixed-size list of 64, and the encoding records the fixed-size training type
    (every model-dir path then takes the list input as it already did)."""
    from vae_augment.encoding import Encoding

    want = fit_encoding(fixed, "label")
    got = fit_encoding(_as_list(fixed, typ), "label")
    assert _trained_json(got) == want.to_json() and "input_lists" not in want.to_json()
    assert got.input_lists == {"img": typ} and want.input_lists == {}
    assert Encoding.from_json(got.to_json()).input_lists == {"img": typ}
    assert got.schema.field("img").type == pa.list_(pa.uint8(), 64)
    assert got.tensors[0].shape == [8, 8]
    assert got.list_tensors(_as_list(fixed, typ).schema) == {"img": typ}


def test_a_list_shape_comes_from_field_metadata_or_else_is_flat(fixed):
    """Without schema metadata, a list of 64 is a flat vector of 64 (as a fixed-size list of
    64 is); its field's `image_shape` metadata shapes it, as a fixed-size list's does."""
    bare = _without_schema_metadata(fixed)
    flat = fit_encoding(_as_list(bare), "label")
    assert flat.tensors[0].shape == [64]
    assert _trained_json(flat) == fit_encoding(bare, "label").to_json()
    shaped = fit_encoding(_as_list(bare, metadata={"image_shape": "4,16"}), "label")
    assert shaped.tensors[0].shape == [4, 16]
    assert shaped.schema.field("img").metadata == {b"image_shape": b"4,16"}


def test_every_row_of_a_list_column_is_checked_nulls_allowed(fixed):
    """A row of another length is an error naming the column, the row, the length found and
    the length expected (and where that came from); null rows are allowed, as for a
    fixed-size list; the first non-null row gives the size."""
    nulls = fit_encoding(_as_list(fixed, nulls=(0, 5)), "label")
    assert nulls.tensors[0].has_nulls and nulls.tensors[0].shape == [8, 8]
    # a list column null in every row is a null column of the input's type, as a
    # fixed-size one is, even when its metadata gives its size
    empty = _as_list(fixed, nulls=range(200), metadata={"image_shape": "8,8"})
    none = fit_encoding(empty, "label")
    assert [s.kind for s in none.specs if s.name == "img"] == ["null"]
    assert none.schema.field("img").type == pa.list_(pa.uint8())
    with pytest.raises(SchemaError) as exc:
        fit_encoding(_as_list(fixed, short=(150, 170), nulls=(0,)), "label")
    assert str(exc.value) == (
        "column 'img' is a variable-length list modelled as a tensor of 64 values per row (the "
        "length of its first non-null row, row 1), and row 150 holds 10: every row must hold "
        "64 values; fix those rows, set the column's `image_shape` field metadata to the right "
        "shape, or exclude it with exclude=['img']")
    with pytest.raises(SchemaError, match=r"of 100 values per row \(its `image_shape` metadata "
                                          r"'10,10'\), and row 0 holds 64: every row must"):
        fit_encoding(_as_list(fixed, metadata={"image_shape": "10,10"}), "label")


def test_a_bad_row_is_named_by_its_file_and_its_row_in_that_file(tmp_path, fixed):
    pq.write_table(_as_list(fixed.slice(0, 100)), tmp_path / "a.parquet")
    pq.write_table(_as_list(fixed.slice(100), short=(7,)), tmp_path / "b.parquet")
    with pytest.raises(SchemaError, match=r"^input '.*b\.parquet': column 'img' .* row 7 holds "
                                          r"10: every row must hold 64 values"):
        fit_encoding(str(tmp_path), "label")


def test_a_size_learned_in_another_file_is_named_with_its_file(tmp_path, fixed):
    """Without metadata the size comes from the first non-null row, which may be in another
    file than the bad row: the error said "(the length of its first non-null row, row 0),
    and row 0 holds 10" under `input 'b.parquet'`, as if b's row 0 held both 64 and 10."""
    var = _without_schema_metadata(_as_list(fixed))
    pq.write_table(var.slice(0, 100), tmp_path / "a.parquet")
    pq.write_table(_as_list(fixed.slice(100), short=range(100)).replace_schema_metadata(None),
                   tmp_path / "b.parquet")
    with pytest.raises(SchemaError, match=r"^input '.*b\.parquet': column 'img' .* first "
                                          r"non-null row, row 0 of input '.*a\.parquet'\), "
                                          r"and row 0 holds 10"):
        fit_encoding(str(tmp_path), "label")
    # Beam's statistics (pipelines.fit_stats) merge parts that each learned a size: both
    # files are named
    from vae_augment.schema import SchemaStats
    from vae_augment.stats_merge import merge_stats

    ragged = _as_list(fixed, short=range(100, 200))
    a, b = SchemaStats(ragged.schema, "label"), SchemaStats(ragged.schema, "label")
    a.update(ragged.slice(0, 100), first_row=0, source="a.parquet")
    b.update(ragged.slice(100), first_row=0, source="b.parquet")
    with pytest.raises(SchemaError, match=r"hold 64 values \(.*row 0 of input 'a\.parquet' "
                                          r"in one part .* others 10 \(.*row 0 of input "
                                          r"'b\.parquet' in another\)"):
        merge_stats(a, b)


def test_lists_that_cannot_be_modelled_are_refused_saying_how_to_fix_them(fixed):
    """A list of strings stays refused (naming it a list of strings); a list whose first row
    is empty and a ragged list say what to do about them beside `exclude`."""
    tags = fixed.append_column("tags", pa.array([["a", "b"]] * fixed.num_rows))
    with pytest.raises(SchemaError, match=r"^column 'tags' has unsupported type list<item: "
                                          r"string>: only lists of numbers are modelled \(as "
                                          r"tensors\); exclude it with exclude=\['tags'\]$"):
        fit_encoding(tags, "label")
    assert fit_encoding(tags, "label", exclude=["tags"]).specs
    empty = fixed.append_column("e", pa.array([[]] * fixed.num_rows, pa.list_(pa.float32())))
    with pytest.raises(SchemaError, match=r"first non-null row \(row 0\) is empty: .* give it "
                                          r"`image_shape` field metadata, or exclude it"):
        fit_encoding(empty, "label")


def test_merged_statistics_take_a_list_column_and_refuse_two_sizes(fixed):
    """Beam's combine folds row groups into separate statistics: one part that saw no row
    takes the other's size; two parts of different sizes are an error naming both."""
    from vae_augment.schema import SchemaStats
    from vae_augment.stats_merge import encoding_from_stats, merge_stats

    var = _as_list(fixed, nulls=range(50))
    parts = [SchemaStats(var.schema, "label") for _ in range(3)]
    for k, batch in enumerate(var.to_batches(max_chunksize=50)):
        parts[k % 3].update(batch)
    merged = merge_stats(merge_stats(parts[0], parts[1]), parts[2])
    assert encoding_from_stats(merged).to_json() == fit_encoding(var, "label").to_json()
    assert encoding_from_stats(merged).input_lists == {"img": var.schema.field("img").type}
    ragged = _as_list(fixed, short=range(100, 200))
    a, b = SchemaStats(ragged.schema, "label"), SchemaStats(ragged.schema, "label")
    a.update(ragged.slice(0, 100))
    b.update(ragged.slice(100))
    with pytest.raises(SchemaError, match=r"column 'img' .* some rows hold 64 values .* "
                                          r"others 10 .* exclude it"):
        merge_stats(a, b)


def test_fit_stats_job_takes_a_list_column_and_fit_uses_its_encoding(tmp_path, fixed):
    """The Beam statistics job (FnApiRunner) refused the list column as `fit` did; its
    encoding is now `fit_encoding`'s, and `fit --encoding` takes the list input with it."""
    from pipelines.fit_stats import run
    from vae_augment.api import fit

    d = tmp_path / "in"
    d.mkdir()
    var = _as_list(fixed)
    pq.write_table(var, d / "part.parquet", row_group_size=60)
    out = tmp_path / "encoding.json"
    run(["--input", str(d), "--label", "label", "--output", str(out), "--constraint", "none",
         "--runner", "FnApiRunner"])
    doc = json.loads(out.read_text())
    want = fit_encoding(str(d), "label").to_json()
    assert {k: v for k, v in doc.items() if k != "constraints"} == {
        k: v for k, v in want.items() if k != "constraints"}
    art = fit(str(d), label="label", encoding=str(out), seed=0, **{**FAST, "epochs": 1})
    assert art.encoding.schema.field("img").type == pa.list_(pa.uint8(), 64)
    assert "input_lists" in doc and art.encoding.input_lists == {"img": var.schema.field("img").type}


@pytest.mark.parametrize("stats_from, data", [("list", "fixed"), ("fixed", "list")])
def test_an_encoding_given_to_fit_samples_the_types_of_the_data_it_trains_on(
        tmp_path, fixed, stats_from, data):
    """An encoding fitted on one copy of the data (list images, say) and given to `fit` with
    another (fixed-size images) kept the first copy's `input_lists`: `sample` then wrote a
    type the training data never held. The data trained on decides."""
    from vae_augment.api import fit, sample

    tables = {"fixed": fixed, "list": _as_list(fixed)}
    path = tmp_path / "train.parquet"
    pq.write_table(tables[data], path)
    enc = tmp_path / "encoding.json"
    enc.write_text(json.dumps(fit_encoding(tables[stats_from], "label").to_json()))
    art = fit(str(path), label="label", encoding=str(enc), seed=0, **{**FAST, "epochs": 1})
    want = tables[data].schema.field("img").type
    assert art.encoding.input_lists == ({} if data == "fixed" else {"img": want})
    assert sample(art, {"a": 3}, seed=0).schema.field("img").type == want


def test_fit_stats_job_names_a_bad_list_row_in_one_line(tmp_path, capsys):
    """A row of another length fails the job in one line naming the column and the row in
    its file: Beam's read yields row groups without saying which, so the file's footer tells
    (three alike in length here: their column statistics)."""
    from pipelines import main
    from pipelines.fit_stats import run

    src = tmp_path / "ragged.parquet"
    pq.write_table(_as_list(make_mixed_table(200), short=(130,)), src, row_group_size=60)
    out = tmp_path / "e.json"
    code = main("fit_stats", run, ["--input", str(src), "--label", "label", "--output",
                                   str(out), "--runner", "FnApiRunner"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "column 'img' is a variable-length list" in err
    assert "and row 130 holds 10: every row must hold 64 values" in err, err
    # ends with what to do, not with Beam's " [while running 'Stats/KeyWithVoid']"
    assert err.strip().endswith("or exclude it with --exclude img"), err
    assert not out.exists()


def test_fit_stats_job_names_a_bad_list_row_of_an_image_table_in_its_file(tmp_path, capsys):
    """An image table's row groups have the same footer statistics (every class, pixels
    0-255): the row was "row 30 of its row group", which names no row of the file. The
    row groups are now told apart by their values when a row is named."""
    from pipelines import main
    from pipelines.fit_stats import run

    table = make_mixed_table(200).select(["img", "label"])
    rng = np.random.default_rng(1)
    labels = np.array(["a", "b", "c", "a"] * 50)
    table = table.set_column(1, "label", pa.array(rng.permutation(labels)))
    src = tmp_path / "images.parquet"
    pq.write_table(_as_list(table, short=(130,)), src, row_group_size=50)
    code = main("fit_stats", run, ["--input", str(src), "--label", "label", "--output",
                                   str(tmp_path / "e.json"), "--runner", "FnApiRunner"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "and row 130 holds 10: every row must hold 64 values" in err, err


def test_balance_without_a_model_trains_on_a_list_column_and_keeps_its_type(tmp_path, fixed,
                                                                             var):
    """`balance` without a model (so `fit`) refused the list<uint8> image column: it trains
    the model the fixed-size input trains, and the output keeps the input's schema exactly,
    the synthetic images being the fixed-size run's as list<uint8>."""
    from vae_augment.api import balance

    outs = {}
    for name, table in (("fixed", fixed), ("var", var)):
        pq.write_table(table, tmp_path / f"{name}.parquet")
        outs[name] = balance(str(tmp_path / f"{name}.parquet"), label="label", seed=1,
                             fit_kwargs={**FAST, "epochs": 1, "seed": 0})["table"]
    got, want = outs["var"], outs["fixed"]
    assert got.schema.equals(pq.read_schema(tmp_path / "var.parquet").append(
        pa.field("is_synthetic", pa.bool_(), False)))
    n = var.num_rows
    assert got.num_rows == want.num_rows > n
    assert got.slice(0, n).drop(["is_synthetic"]).equals(pq.read_table(tmp_path / "var.parquet"))
    assert got.column("img").cast(want.schema.field("img").type).equals(want.column("img"))
    assert got.drop(["img"]).equals(want.drop(["img"]))


def test_streamed_fit_takes_a_list_column(tmp_path, fixed, var):
    """The streamed fit (row groups encoded as they are read) trains on the list column as on
    the fixed-size one: the same weights."""
    from vae_augment.api import fit

    arts = {}
    for name, table in (("fixed", fixed), ("var", var)):
        pq.write_table(table, tmp_path / f"{name}.parquet", row_group_size=64)
        arts[name] = fit(str(tmp_path / f"{name}.parquet"), label="label", streaming=True,
                         seed=0, **{**FAST, "epochs": 1})
    assert _trained_json(arts["var"].encoding) == arts["fixed"].encoding.to_json()
    assert arts["var"].encoding.input_lists == {"img": pa.list_(pa.uint8())}
    for a, b in zip(arts["var"].model.get_weights(), arts["fixed"].model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_streamed_fit_with_an_encoding_names_a_bad_list_row_by_its_row_in_its_file(
        tmp_path, fixed):
    """With `encoding=` no statistics pass checks the rows: the streamed training pass does,
    and named the row by its place among the batch's training rows (the validation rows
    filtered out first) and in its row group: row 1 here for row 130 of the file."""
    from vae_augment.api import fit
    from vae_augment.errors import VAEAugmentError

    enc = fit_encoding(fixed, "label")
    src = tmp_path / "ragged.parquet"
    pq.write_table(_as_list(fixed, short=(130,)), src, row_group_size=60)
    with pytest.raises(VAEAugmentError, match=r"^input '.*ragged\.parquet': column 'img' has "
                                              r"lists of another length than the model's 64 "
                                              r"values \(1 row; the first is row 130\)"):
        fit(str(src), label="label", streaming=True, encoding=enc, validation_split=0.3,
            seed=0, **{**FAST, "epochs": 1})


def test_in_memory_fit_with_an_encoding_names_a_bad_list_row_by_its_file(tmp_path, fixed):
    """The in-memory fit with `encoding=` (no statistics pass) named a bad row by its place
    in its read batch and no file: "row 7" for row 7 of b.parquet, the input's row 107."""
    from vae_augment.preparation import encode_all

    enc = fit_encoding(fixed, "label")
    pq.write_table(_as_list(fixed.slice(0, 100)), tmp_path / "a.parquet")
    pq.write_table(_as_list(fixed.slice(100), short=(7,)), tmp_path / "b.parquet")
    with pytest.raises(SchemaError, match=r"^input '.*b\.parquet': column 'img' has lists of "
                                          r"another length .* the first is row 7\)$"):
        encode_all(enc, str(tmp_path))
    assert len(encode_all(enc, str(tmp_path / "a.parquet"))["y"]) == 100


def test_cli_fit_and_balance_take_a_list_column(capsys, tmp_path, var):
    """`vae-augment fit` refused the list column ("unsupported type list<item: uint8>");
    the model it saves is used by `balance --model-dir`, which writes the list type back."""
    src = tmp_path / "var.parquet"
    pq.write_table(var, src)
    code, _, err = run_cli(["fit", str(src), "--label", "label", "--model-dir",
                            str(tmp_path / "m"), *FAST_ARGS], capsys)
    assert code == 0, err
    code, _, err = run_cli(["balance", str(src), str(tmp_path / "b.parquet"), "--label",
                            "label", "--model-dir", str(tmp_path / "m"), "--quiet"], capsys)
    assert code == 0, err
    assert pq.read_schema(tmp_path / "b.parquet").field("img").type == pa.list_(pa.uint8())
    ragged = tmp_path / "ragged.parquet"
    pq.write_table(_as_list(make_mixed_table(200), short=(9,)), ragged)
    code, _, err = run_cli(["balance", str(ragged), str(tmp_path / "r.parquet"), "--label",
                            "label", *FAST_ARGS], capsys)
    assert code == 2 and "column 'img'" in err and "row 9 holds 10" in err
    assert "--exclude img" in err


def _as_tensor(table: pa.Table, shape=(8, 8)) -> pa.Table:
    """`table` with its image column as an `arrow.fixed_shape_tensor` of `shape` (no
    schema metadata: the type holds the shape)."""
    ext = pa.fixed_shape_tensor(pa.uint8(), list(shape))
    i = table.schema.get_field_index("img")
    col = pa.ExtensionArray.from_storage(ext, table.column(i).combine_chunks())
    return _without_schema_metadata(table).set_column(i, pa.field("img", ext), col)


def _with_shape(table: pa.Table, shape) -> pa.Table:
    return table.replace_schema_metadata(
        None if shape is None else {"image_shape": json.dumps({"img": shape})})


@pytest.mark.parametrize("trained_on", ["tensor", "fixed"])
def test_balance_with_a_model_takes_a_fixed_size_list_for_a_fixed_shape_tensor(
        tmp_path, fixed, trained_on):
    """A model fitted on an `arrow.fixed_shape_tensor` [8, 8] image column refused the same
    values as a plain `fixed_size_list<uint8>[64]` ("has type fixed_size_list..., expected
    extension<...>"), and a model fitted on the fixed-size list refused the tensor type,
    though `score`/`encode` took either and the variable-length list was taken: either is
    now taken like the list, the output keeping the input's type in real and synthetic rows
    alike. A shape of two axes the input declares must be the model's, for the lists too
    (a list<uint8> declaring [4, 16] was balanced as if [8, 8])."""
    from pipelines import balance as balance_job
    from vae_augment.api import balance, fit

    tensor, plain = _as_tensor(fixed), _without_schema_metadata(fixed)
    art = fit(tensor if trained_on == "tensor" else fixed, label="label", seed=0,
              model_dir=str(tmp_path / "m"), **{**FAST, "epochs": 1})
    inputs = ([_with_shape(plain, [8, 8]), plain] if trained_on == "tensor"
              else [tensor, _as_tensor(fixed, [1, 64])])
    outs = []
    for table in inputs:
        src = tmp_path / "in.parquet"
        pq.write_table(table, src)
        got = balance(str(src), label="label", model=art, seed=1)["table"]
        assert got.schema.equals(_sampled_schema(src)), got.schema
        n = table.num_rows
        assert got.num_rows > n
        assert got.slice(0, n).drop(["is_synthetic"]).equals(pq.read_table(src))
        outs.append(got)
    # the Beam job (`BalanceClasses` given the input's schema) refused it too
    balance_job.run(["--input", str(src), "--output", str(tmp_path / "b"), "--model-dir",
                     str(tmp_path / "m"), "--label", "label", "--runner", "FnApiRunner"])
    files = sorted((tmp_path / "b").glob("*.parquet"))
    assert len(files) == 2 and all(
        pq.read_schema(f).field("img").type == table.schema.field("img").type for f in files)
    storage = [o.column("img").combine_chunks() for o in outs]
    storage = [c.storage if isinstance(c, pa.ExtensionArray) else c for c in storage]
    assert storage[0].equals(storage[1])  # the same synthetic images in either type
    for typ in (None if trained_on == "tensor" else pa.list_(pa.uint8(), 64),
                pa.list_(pa.uint8())):
        table = _with_shape(plain if typ is None else _as_list(plain, typ), [4, 16])
        pq.write_table(table, tmp_path / "other.parquet")
        with pytest.raises(SchemaError, match=r"^column 'img' holds tensors of shape \[4, 16\] "
                                              r"\(its entry in the schema's `image_shape` "
                                              r"metadata\); the model's are \[8, 8\]"):
            balance(str(tmp_path / "other.parquet"), label="label", model=art, seed=1)


def test_oversampler_takes_a_dataframe_column_of_lists():
    """`VAEOverSampler` on a DataFrame whose column holds lists of numbers (pandas' object
    column, Arrow's list<int64>) refused it ("unsupported type list<item: int64>"): it is
    modelled as a tensor of its rows' length, and synthetic rows hold lists of that length."""
    import pandas as pd

    from vae_augment.imblearn import VAEOverSampler

    rng = np.random.default_rng(0)
    n = 120
    X = pd.DataFrame({"a": rng.normal(size=n),
                      "img": [list(rng.integers(0, 5, 4)) for _ in range(n)]})
    y = np.array([0] * 90 + [1] * 30)
    sampler = VAEOverSampler(epochs=1, hidden=(8,), latent_dim=2, kl_warmup_epochs=1,
                             random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert len(X_res) == len(y_res) == 180 and (y_res[n:] == 1).all()
    assert sampler.encoding_.tensors[0].shape == [4]
    assert all(len(v) == 4 and set(v) <= set(range(5)) for v in X_res["img"].iloc[n:])
    # the column's rows are lists, the synthetic ones too (not numpy arrays among lists)
    assert all(isinstance(v, list) for v in X_res["img"])


def test_oversampler_takes_a_dataframe_column_of_2d_arrays_in_their_shape():
    """A DataFrame column of 8x8 numpy arrays (`list(X.reshape(n, 8, 8))`) was refused
    with advice that did not apply ("give it one type (numbers, strings, booleans or a
    categorical dtype)"): it is now modelled in the arrays' shape, as a column with
    `image_shape` metadata is (uint8 8x8: an image), and its synthetic rows are arrays of
    that shape and dtype, as the real ones. Arrays of several shapes are refused, naming
    the column, the shapes and what to do."""
    import pandas as pd

    from vae_augment.imblearn import VAEOverSampler

    rng = np.random.default_rng(0)
    n = 60
    img = rng.integers(0, 17, (n, 8, 8)).astype(np.uint8)
    X = pd.DataFrame({"img": list(img), "a": rng.normal(size=n)})
    y = np.array([0] * 40 + [1] * 20)
    sampler = VAEOverSampler(epochs=1, hidden=(8,), latent_dim=2, kl_warmup_epochs=1,
                             random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert len(X_res) == len(y_res) == 80 and (y_res[n:] == 1).all()
    assert sampler.encoding_.tensors[0].shape == [8, 8]
    assert all(v is img[i] or np.array_equal(v, img[i]) for i, v in enumerate(X_res["img"][:n]))
    new = X_res["img"].iloc[n:]
    assert all(isinstance(v, np.ndarray) and v.shape == (8, 8) and v.dtype == np.uint8
               for v in new)
    X.at[5, "img"] = img[5][:4]
    with pytest.raises(ValueError, match=r"^column 'img' of `X` holds arrays of shape "
                                         r"\(8, 8\) and \(4, 8\) \(row 5\); give every row one "
                                         r"shape, or leave it out with `exclude`$"):
        VAEOverSampler(epochs=1).fit_resample(X, y)
    # an object array's column alike
    A = np.empty((n, 2), dtype=object)
    A[:, 0], A[:, 1] = X["a"], list(img[:, :4, :4].astype(np.int64))
    A_res, _ = sampler.fit_resample(A, y)
    assert sampler.encoding_.tensors[0].shape == [4, 4]
    assert all(v.shape == (4, 4) and v.dtype == np.int64 for v in A_res[n:, 1])


def test_oversampler_takes_an_object_array_column_of_lists():
    """An object ndarray whose column holds lists trained, then failed writing the synthetic
    rows ("could not broadcast input array from shape (30,4) into shape (30,)")."""
    from vae_augment.imblearn import VAEOverSampler

    rng = np.random.default_rng(0)
    n = 120
    X = np.empty((n, 2), dtype=object)
    X[:, 0] = rng.normal(size=n)
    for i in range(n):
        X[i, 1] = [int(v) for v in rng.integers(0, 5, 4)]
    y = np.array([0] * 90 + [1] * 30)
    sampler = VAEOverSampler(epochs=1, hidden=(8,), latent_dim=2, kl_warmup_epochs=1,
                             random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert X_res.shape == (180, 2) and (y_res[n:] == 1).all()
    assert all(isinstance(v, list) and len(v) == 4 for v in X_res[n:, 1])


def test_null_list_rows_are_trained_and_written_back_without_a_warning(tmp_path, fixed):
    """Null rows of a list column are allowed as a fixed-size list's are; `balance` writes
    them (real and synthetic) as the input's list type, which Parquet holds, so training
    does not warn that null fixed-size lists cannot be written."""
    import warnings

    from vae_augment.api import balance

    src = tmp_path / "var.parquet"
    pq.write_table(_as_list(fixed, nulls=range(0, 200, 4)), src)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        encoding = fit_encoding(str(src), "label")
    assert encoding.tensors[0].has_nulls
    out = tmp_path / "b.parquet"
    balance(str(src), str(out), label="label", seed=1,
            fit_kwargs={**FAST, "epochs": 1, "seed": 0})
    got = pq.read_table(out)
    assert got.schema.field("img").type == pa.list_(pa.uint8())
    assert got.slice(fixed.num_rows).column("img").null_count > 0


def test_read_parquet_takes_a_list_column_without_metadata_as_training_does(tmp_path, fixed):
    """`tfdata.read_parquet` refused a list<uint8> column without `image_shape` metadata
    ("tf.data needs its row shape"), though `fit` trains on it: its size is now its first
    non-null row's and its shape training's (schema-level `image_shape` when it holds that
    many values, else flat), so the file a model was fitted on feeds `tfdata.balance`, its
    real and synthetic element specs equal to a fixed-size list file's."""
    tf = pytest.importorskip("tensorflow")
    from vae_augment import tfdata
    from vae_augment.api import fit

    bare = _without_schema_metadata(fixed)
    files = {"fixed": bare, "plain": _as_list(bare, nulls=(0,)),
             "shaped": _as_list(fixed), "misfit": _as_list(fixed).replace_schema_metadata(
                 {"image_shape": "4,4"})}
    for name, table in files.items():
        pq.write_table(table, tmp_path / f"{name}.parquet")
    with pytest.warns(UserWarning, match=r"image_shape '4,4' \(16 values\) does not fit "
                                         r"column 'img' \(64 values per row\)"):  # misfit
        read = {n: tfdata.read_parquet(str(tmp_path / f"{n}.parquet"), 64) for n in files}
    assert read["plain"].element_spec == read["fixed"].element_spec
    assert read["plain"].element_spec["img"].shape.as_list() == [None, 64]
    assert read["shaped"].element_spec["img"].shape.as_list() == [None, 8, 8]
    assert read["misfit"].element_spec["img"].shape.as_list() == [None, 64]  # as fit models it
    for a, b in zip(read["fixed"], read["plain"]):
        np.testing.assert_array_equal(a["img"].numpy()[1:], b["img"].numpy()[1:])
    assert list(next(iter(read["plain"]))["img"].numpy()[0]) == [0] * 64  # a null row's fill

    art = fit(str(tmp_path / "plain.parquet"), label="label", seed=0, **{**FAST, "epochs": 1})
    # `balance` checks the real spec against the model's and mixes in its synthetic rows
    ds = tfdata.balance(read["plain"], art, label_key="label", seed=0, batch_size=64)
    assert ds.element_spec == read["plain"].element_spec
    rows = sum(int(tf.shape(b["label"])[0]) for b in ds)
    assert rows > bare.num_rows


def test_read_parquet_learns_a_list_size_in_a_later_file_and_checks_every_row(
        tmp_path, fixed, monkeypatch):
    """The size comes from the first non-null row of the input, reading only the list
    column and only as far as that row; every row streamed is checked, a row of another
    length being an error naming the column, its row in the input, its length and where
    the size came from; no non-null row or an empty first one: a SchemaError saying what to
    do."""
    tf = pytest.importorskip("tensorflow")
    from vae_augment import tfdata, tfdata_read

    bare = _without_schema_metadata(fixed)
    pq.write_table(_as_list(bare.slice(0, 50), nulls=range(50)), tmp_path / "a.parquet")
    pq.write_table(_as_list(bare.slice(50), nulls=(0,), short=(120,)), tmp_path / "b.parquet")
    real_iter, reads = tfdata_read.iter_batches, []

    def counting(files, **kw):
        for rb in real_iter(files, **kw):
            reads.append((kw.get("columns"), rb.num_rows))
            yield rb

    monkeypatch.setattr(tfdata_read, "iter_batches", counting)
    ds = tfdata.read_parquet(str(tmp_path), 64)
    assert ds.element_spec["img"].shape.as_list() == [None, 64]
    # only the column, file a's rows (all null) and b's first batch
    assert [c for c, _ in reads] == [["img"], ["img"]] and sum(n for _, n in reads) < 200
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=r"column 'img' has lists of another length than its 64 values "
                             r"\(the length of its first non-null row, row 51 of the input; "
                             r"shape \[64\]\) \(1 row of this batch; the first is row 170 of "
                             r"the input, which holds 10\)"):
        list(ds)
    monkeypatch.undo()

    pq.write_table(_as_list(bare, nulls=range(bare.num_rows)), tmp_path / "nulls.parquet")
    with pytest.raises(SchemaError, match=r"column 'img' is a variable-length list "
                                          r"\(list<element: uint8>\) with no non-null row to "
                                          r"learn its size from, .*`image_shape` metadata"):
        tfdata.read_parquet(str(tmp_path / "nulls.parquet"), 64)
    # its own `image_shape` metadata needs no row
    shaped = _as_list(bare, nulls=range(bare.num_rows), metadata={"image_shape": "4,16"})
    pq.write_table(shaped, tmp_path / "shaped.parquet")
    got = tfdata.read_parquet(str(tmp_path / "shaped.parquet"), 64)
    assert got.element_spec["img"].shape.as_list() == [None, 4, 16]
    empty = bare.set_column(bare.schema.get_field_index("img"), "img",
                            pa.array([[]] + [[1] * 64] * (bare.num_rows - 1),
                                     pa.list_(pa.uint8())))
    pq.write_table(empty, tmp_path / "empty.parquet")
    with pytest.raises(SchemaError, match=r"column 'img' is a list whose first non-null row "
                                          r"\(row 0 of the input\) is empty"):
        tfdata.read_parquet(str(tmp_path / "empty.parquet"), 64)


@pytest.mark.parametrize("typ", [pa.list_(pa.uint8()), pa.list_(pa.uint8(), 100)])
def test_read_parquet_warns_as_training_when_schema_image_shape_fits_no_column(tmp_path, typ):
    """Schema-level `image_shape` 8,8 beside a list column of 100 values a row: training
    warns that it fits no column (the column is flat), and `read_parquet` read it flat
    without a word for a variable-length list (a fixed-size one warned): it now warns with
    training's message, its learned size standing in for the list's."""
    pytest.importorskip("tensorflow")
    from vae_augment import tfdata

    table = make_mixed_table(200)
    table = table.set_column(table.schema.get_field_index("img"), "img",
                             pa.array([[1] * 100] * 200, typ))
    assert table.schema.metadata[b"image_shape"] == b"8,8"
    pq.write_table(table, tmp_path / "t.parquet")
    msg = (r"schema metadata image_shape '8,8' \(64 values\) does not fit column 'img' "
           r"\(100 values per row\): it is modelled as a flat vector")
    with pytest.warns(UserWarning, match=msg):
        fit_encoding(str(tmp_path / "t.parquet"), "label")
    with pytest.warns(UserWarning, match=msg):
        ds = tfdata.read_parquet(str(tmp_path / "t.parquet"), 64)
    assert ds.element_spec["img"].shape.as_list() == [None, 100]


def test_balance_takes_the_real_shape_of_a_list_column_the_model_does_not_generate(
        tmp_path, fixed):
    """A list column the model fills rather than generates, excluded (`img`) or null in
    every row (`blank`, whose `image_shape` field metadata gives `read_parquet` its shape):
    `tfdata.balance` of the training file refused an excluded one ("no non-null row to
    learn its size from": the model's schema has no size for it), and now takes the real
    rows' shape, the synthetic rows null; `synthetic_dataset`, with no real rows, says the
    model knows no shape for it."""
    pytest.importorskip("tensorflow")
    from vae_augment import tfdata
    from vae_augment.api import fit

    bare = _as_list(_without_schema_metadata(fixed))
    blank = pa.field("blank", pa.list_(pa.float32()), metadata={"image_shape": "2,3"})
    bare = bare.append_column(blank, pa.nulls(bare.num_rows, blank.type))
    src = str(tmp_path / "t.parquet")
    pq.write_table(bare, src)
    art = fit(src, label="label", seed=0, exclude=["img"], **{**FAST, "epochs": 1})
    assert {s.name: s.kind for s in art.encoding.specs}["blank"] == "null"
    real = tfdata.read_parquet(src, 64, null_masks=["img", "blank"])
    assert real.element_spec["img"].shape.as_list() == [None, 64]
    assert real.element_spec["blank"].shape.as_list() == [None, 2, 3]
    ds = tfdata.balance(real, art, label_key="label", seed=0, batch_size=64, flag_key="syn")
    assert {k: v for k, v in ds.element_spec.items() if k != "syn"} == real.element_spec
    syn = [b for b in ds if b["syn"].numpy().any()]
    got = {k: np.concatenate([b[k].numpy()[b["syn"].numpy()] for b in syn])
           for k in ("img", "img__is_null", "blank", "blank__is_null")}
    assert got["img__is_null"].all() and (got["img"] == 0).all()
    assert got["blank__is_null"].all() and np.isnan(got["blank"]).all()
    with pytest.raises(SchemaError, match=r"column 'img' is a variable-length list "
                                          r"\(list<element: uint8>\) that the model does not "
                                          r"generate \(it was excluded from its training "
                                          r"data\), so the model knows no row shape"):
        tfdata.synthetic_dataset(art, "a", batch_size=8, seed=0)
    got = tfdata.synthetic_dataset(art, "a", batch_size=8, seed=0, columns=["blank"])
    assert got.element_spec["blank"] == real.element_spec["blank"]


@pytest.fixture(scope="module", params=[pa.list_(pa.uint8()), pa.large_list(pa.float32())],
                ids=["list_uint8", "large_list_float32"])
def list_model(request, tmp_path_factory, fixed):
    """(training file, model directory) of a model fitted on the image column as `param`."""
    from vae_augment.api import fit

    d = tmp_path_factory.mktemp("list_model")
    src = d / "train.parquet"
    pq.write_table(_as_list(fixed, request.param, nulls=(4,)), src)
    fit(str(src), label="label", model_dir=str(d / "m"), seed=0, **{**FAST, "epochs": 1})
    return src, d / "m"


def _sampled_schema(src) -> pa.Schema:
    return pq.read_schema(src).append(pa.field("is_synthetic", pa.bool_(), False))


def test_sample_writes_an_image_column_as_the_list_type_it_was_trained_from(
        tmp_path, capsys, list_model):
    """A model trained on a list<uint8> (or large_list<float>) image column sampled it as the
    fixed-size list it is trained as (`fixed_size_list<uint8>[64]`): `sample` now writes the
    training file's schema (plus `is_synthetic`), in Python and from the CLI, to one file,
    shards or partitions, and with the privacy filter."""
    from vae_augment.api import sample

    src, model = list_model
    typ = pq.read_schema(src).field("img").type
    counts = {"a": 5, "c": 40}
    got = sample(str(model), counts, seed=0)
    assert got.schema.equals(_sampled_schema(src), check_metadata=True)
    assert set(pc.list_value_length(got.column("img")).drop_null().to_pylist()) == {64}
    private = sample(str(model), counts, seed=0, privacy_min_distance=0.0, reference=str(src))
    assert private.schema.equals(_sampled_schema(src))
    assert sample(str(model), counts, str(tmp_path / "shards"), seed=0, output_shards=2) == 45
    assert sample(str(model), counts, str(tmp_path / "parts"), seed=0, partition_by="s") == 45
    for f in [*tmp_path.glob("shards/*.parquet"), *tmp_path.glob("parts/**/*.parquet")]:
        assert pq.read_schema(f).field("img").type == typ, f
    code, _, err = run_cli(["sample", tmp_path / "cli.parquet", "--model-dir", model, "--n",
                            "7", "--quiet"], capsys)
    assert code == 0, err
    cli = pq.read_table(tmp_path / "cli.parquet")
    assert cli.schema.equals(_sampled_schema(src)) and cli.num_rows == 21
    assert cli.equals(sample(str(model), {"a": 7, "b": 7, "c": 7}, seed=0))
    # `info` shows the tensor column, and the type it is stored (and sampled) as
    code, out, err = run_cli(["info", "--model-dir", model], capsys)
    assert code == 0, err
    assert json.loads(out)["tensors"] == {"img": {
        "shape": [8, 8], "likelihood": "binomial", "stored_as": str(typ)}}  # pixel counts


def test_an_artifact_saved_before_the_list_types_were_recorded_samples_the_fixed_size_type(
        tmp_path, list_model):
    """An artifact whose encoding.json has no `input_lists` (saved before they were recorded)
    loads and samples as it did: the image column as the fixed-size list it is trained as."""
    import hashlib
    import shutil

    from vae_augment.api import sample

    src, model = list_model
    old = tmp_path / "old"
    shutil.copytree(model, old)
    doc = json.loads((old / "encoding.json").read_text())
    del doc["input_lists"]
    (old / "encoding.json").write_text(json.dumps(doc))
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["encoding.json"] = hashlib.sha256((old / "encoding.json").read_bytes()).hexdigest()
    (old / "manifest.json").write_text(json.dumps(manifest))
    got = sample(str(old), {"b": 5}, seed=0)
    value = pq.read_schema(src).field("img").type.value_field
    assert got.schema.field("img").type == pa.list_(value, 64)
    new = sample(str(model), {"b": 5}, seed=0)
    assert got.column("img").cast(new.schema.field("img").type).equals(new.column("img"))
    assert got.drop(["img"]).equals(new.drop(["img"]))


def test_beam_sample_writes_the_list_type_and_balance_keeps_its_input_type(tmp_path, fixed,
                                                                           list_model):
    """`pipelines.sample` (`GenerateSynthetic`) writes `sample`'s rows, the image column of
    the list type the model was trained from; `BalanceClasses` (`pipelines.balance`) of a
    fixed-size input with that model writes the input's fixed-size type, as `balance` does."""
    from pipelines import balance
    from pipelines import sample as sample_job
    from vae_augment.api import sample

    src, model = list_model
    out = tmp_path / "s"
    sample_job.run(["--output", str(out), "--model-dir", str(model), "--n", "20", "--seed", "3",
                    "--runner", "FnApiRunner"])
    files = sorted(out.glob("*.parquet"))
    assert files and all(pq.read_schema(f).equals(_sampled_schema(src)) for f in files)
    got = pa.concat_tables([pq.read_table(f) for f in files])
    want = sample(str(model), {"a": 20, "b": 20, "c": 20}, seed=3)
    key = [("label", "ascending"), ("i", "ascending"), ("f32", "ascending")]
    assert got.sort_by(key).equals(want.sort_by(key))

    # the input as the fixed-size list of the model's values
    trained = pa.list_(pq.read_schema(src).field("img").type.value_field, 64)
    i = fixed.schema.get_field_index("img")
    fixed = fixed.set_column(i, pa.field("img", trained), fixed.column(i).cast(trained))
    fixed_src = tmp_path / "fixed.parquet"
    pq.write_table(fixed, fixed_src)
    balance.run(["--input", str(fixed_src), "--output", str(tmp_path / "b"), "--model-dir",
                 str(model), "--label", "label", "--seed", "0", "--runner", "FnApiRunner"])
    files = sorted((tmp_path / "b").glob("synthetic*.parquet"))
    assert files and all(pq.read_schema(f).field("img").type == trained for f in files)
