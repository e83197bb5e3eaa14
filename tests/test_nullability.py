"""A file whose fields differ from the model's training data only in being declared nullable
or not (Spark, Delta, DuckDB and `Table.cast` declare columns NOT NULL; pandas never does).
`balance --model-dir` and `pipelines.balance` refused it ("column 'i' has nullable=False,
expected True") while `score` and `encode` took it. Now the output declares every field as
the input does, unless the model generates nulls in a field the input declares not nullable:
that is refused before anything is written."""

import glob

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from .conftest import FAST_ARGS, run_cli

RUNNER = "FnApiRunner"
REQUIRED = ["i", "f32", "label"]  # no nulls in the mixed table's training rows


def declared(table: pa.Table, required, *, fill=()) -> pa.Table:
    for name in fill:  # a column with nulls: filled, so it can be declared NOT NULL
        table = table.set_column(table.schema.get_field_index(name), name,
                                 pc.fill_null(table.column(name), 1.0))
    schema = pa.schema([f.with_nullable(f.name not in required) for f in table.schema],
                       metadata=table.schema.metadata)
    return table.cast(schema)


def check_output(table: pa.Table, out: pa.Table) -> None:
    """The output declares every field as the input does, and holds the input's rows first."""
    assert out.schema.equals(table.schema.append(pa.field("is_synthetic", pa.bool_(),
                                                          nullable=False)))
    real = out.filter(pc.invert(out.column("is_synthetic"))).drop_columns(["is_synthetic"])
    assert real.equals(table)
    assert out.column("is_synthetic").to_numpy().sum() > 0


def test_balance_takes_fields_declared_not_nullable(mixed_artifact, mixed_table, tmp_path,
                                                    capsys):
    table = declared(mixed_table, REQUIRED)
    src, out = tmp_path / "required.parquet", tmp_path / "out.parquet"
    pq.write_table(table, src)
    code, _, err = run_cli(["balance", src, out, "--label", "label", "--model-dir",
                            mixed_artifact, "--seed", "0", "--quiet"], capsys)
    assert code == 0, err
    check_output(table, pq.read_table(out))


def test_a_field_declared_not_nullable_where_the_model_generates_nulls_is_refused(
        mixed_artifact, mixed_table, tmp_path, capsys):
    from vae_augment.api import balance, load_artifact
    from vae_augment.errors import SchemaError

    table = declared(mixed_table, ["f", "label"], fill=["f"])  # `f` had nulls in training
    src, out = tmp_path / "required_f.parquet", tmp_path / "out.parquet"
    pq.write_table(table, src)
    code, _, err = run_cli(["balance", src, out, "--label", "label", "--model-dir",
                            mixed_artifact, "--quiet"], capsys)
    assert code == 2 and err.strip().endswith(
        "column 'f' is not nullable in the input, but it held nulls in the model's training "
        "data, so synthetic rows may too; make the field nullable, or use a model trained on "
        "data without nulls in it")
    assert not out.exists()
    with pytest.raises(SchemaError, match="column 'f' is not nullable in the input"):
        balance(table, None, label="label", model=load_artifact(str(mixed_artifact)))


def test_a_model_of_fields_declared_not_nullable_balances_nullable_ones(tmp_path, capsys):
    rng = np.random.default_rng(0)
    n = 200
    x = rng.normal(size=n).round(3)
    train = pa.table({"x": x, "label": np.where(rng.random(n) < 0.2, "b", "a")})
    strict = pa.schema([f.with_nullable(False) for f in train.schema])
    pq.write_table(train.cast(strict), tmp_path / "train.parquet")
    code, _, err = run_cli(["fit", tmp_path / "train.parquet", "--label", "label",
                            "--model-dir", tmp_path / "m", *FAST_ARGS], capsys)
    assert code == 0, err
    loose = train.set_column(0, "x", pa.array([None, *x[1:]], pa.float64()))  # pandas' way
    pq.write_table(loose, tmp_path / "loose.parquet")
    code, _, err = run_cli(["balance", tmp_path / "loose.parquet", tmp_path / "out.parquet",
                            "--label", "label", "--model-dir", tmp_path / "m", "--quiet"], capsys)
    assert code == 0, err
    out = pq.read_table(tmp_path / "out.parquet")
    check_output(loose, out)
    assert out.column("x").null_count == 1  # the real row's null, and none generated


def test_the_beam_job_declares_fields_as_its_input_does(mixed_artifact, mixed_table, tmp_path):
    from pipelines import balance
    from vae_augment.errors import SchemaError

    table = declared(mixed_table, REQUIRED)
    pq.write_table(table, tmp_path / "required.parquet")
    balance.run(["--input", str(tmp_path / "required.parquet"), "--output",
                 str(tmp_path / "out"), "--model-dir", str(mixed_artifact), "--label", "label",
                 "--runner", RUNNER])
    files = sorted(glob.glob(str(tmp_path / "out" / "*.parquet")))
    assert [f.rsplit("/", 1)[1].split("-")[0] for f in files] == ["real", "synthetic"]
    want = table.schema.append(pa.field("is_synthetic", pa.bool_(), nullable=False))
    for f in files:
        assert pq.read_schema(f).equals(want)
    out = pa.concat_tables([pq.read_table(f) for f in files])
    check_output(table, out)
    bad = declared(mixed_table, ["f", "label"], fill=["f"])
    pq.write_table(bad, tmp_path / "required_f.parquet")
    with pytest.raises(SchemaError, match="column 'f' is not nullable in the input, but it "
                                          "held nulls"):
        balance.run(["--input", str(tmp_path / "required_f.parquet"), "--output",
                     str(tmp_path / "out2"), "--model-dir", str(mixed_artifact), "--label",
                     "label", "--runner", RUNNER])
    assert not (tmp_path / "out2").exists()


def test_a_directory_whose_files_declare_fields_differently_is_one_input(
        mixed_artifact, mixed_table, tmp_path, capsys):
    """A directory of one writer's file with NOT NULL fields and another's without (Spark
    beside pandas): every command and the Beam job refused it ("input 'part-1.parquet' has
    a different schema from 'part-0.parquet': column 'i' has nullable=False, expected
    True"). The fields are nullable where any file's is; the rows are the files' rows."""
    from pipelines import balance

    first = declared(mixed_table.slice(0, 150), REQUIRED)  # NOT NULL first, then a null
    rest = mixed_table.slice(150)
    rest = rest.set_column(rest.schema.get_field_index("i"), "i",
                           pa.array([None, *rest.column("i").to_pylist()[1:]], pa.int64()))
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(first, folder / "part-0.parquet")
    pq.write_table(rest, folder / "part-1.parquet")
    loose = pa.concat_tables([first.cast(rest.schema), rest])

    out = tmp_path / "out.parquet"
    code, _, err = run_cli(["balance", folder, out, "--label", "label", "--model-dir",
                            mixed_artifact, "--seed", "0", "--quiet"], capsys)
    assert code == 0, err
    check_output(loose, pq.read_table(out))
    code, _, err = run_cli(["fit", folder, "--label", "label", "--model-dir",
                            tmp_path / "m", *FAST_ARGS], capsys)
    assert code == 0, err

    balance.run(["--input", str(folder), "--output", str(tmp_path / "beam"), "--model-dir",
                 str(mixed_artifact), "--label", "label", "--runner", RUNNER])
    files = sorted(glob.glob(str(tmp_path / "beam" / "*.parquet")))
    want = loose.schema.append(pa.field("is_synthetic", pa.bool_(), nullable=False))
    assert files and all(pq.read_schema(f).equals(want) for f in files)
    beam_out = pa.concat_tables([pq.read_table(f) for f in files])
    real = beam_out.filter(pc.invert(beam_out.column("is_synthetic")))
    assert real.num_rows == loose.num_rows and real.column("i").null_count == 1

    # files of another type still differ
    pq.write_table(rest.cast(pa.schema([f.with_type(pa.int32()) if f.name == "i" else f
                                        for f in rest.schema])), folder / "part-1.parquet")
    code, _, err = run_cli(["balance", folder, out, "--label", "label", "--model-dir",
                            mixed_artifact, "--quiet", "--overwrite"], capsys)
    assert code == 2 and "column 'i' has type int32, expected int64" in err
