"""Beam transforms and jobs: in-process, multi-process and on a real Dask cluster.

Every runner must: emit every input row exactly once (``is_synthetic=False``), reach the class
counts the strategy asks for, and emit exactly the synthetic rows the CLI/API generates for the
same artifact, data and seed (compared as multisets of rows).
"""

from __future__ import annotations

import collections
import glob
import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

apache_beam = pytest.importorskip("apache_beam")
import apache_beam as beam  # noqa: E402
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline  # noqa: E402
from apache_beam.testing.util import BeamAssertException, assert_that  # noqa: E402

from vae_augment import api, scoring  # noqa: E402
from vae_augment.artifact import load_artifact  # noqa: E402
from vae_augment.balancing import target_counts  # noqa: E402
from vae_augment.beam import (  # noqa: E402
    BadRows,
    BalanceClasses,
    CountClasses,
    EncodeLatent,
    GenerateSynthetic,
    ReadParquetTables,
    ScoreAnomalies,
    plan_shards,
)
from vae_augment.beam._shared import model_meta  # noqa: E402
from vae_augment.errors import VAEAugmentError  # noqa: E402
from vae_augment.sampler import BLOCK_ROWS  # noqa: E402

# b needs more than one sampler block, so its request is split into several shards.
STRATEGY = {"b": BLOCK_ROWS + 500, "c": 400}
SEED = 7
RUNNER = "FnApiRunner"


# ---------------------------------------------------------------- helpers
def rows(table: pa.Table) -> collections.Counter:
    """The multiset of rows of a table (order-free comparison)."""
    cols = [c.to_pylist() for c in table.columns]
    return collections.Counter(repr(r) for r in zip(*cols))


def concat(tables) -> pa.Table:
    tables = list(tables)
    assert tables, "no output tables"
    return pa.concat_tables(tables)


def read_dir(path, prefix="") -> pa.Table:
    files = sorted(glob.glob(os.path.join(path, f"{prefix}*.parquet")))
    assert files, f"no {prefix}*.parquet files in {path}"
    return pa.concat_tables([pq.read_table(f) for f in files])


def class_counts(table: pa.Table, label="label") -> dict:
    vc = table.column(label).combine_chunks().value_counts()
    return dict(zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist()))


def check_balanced(out: pa.Table, expected: dict) -> None:
    """The three properties every runner must satisfy."""
    flag = out.column("is_synthetic").to_numpy()
    real, synthetic = out.filter(pa.array(~flag)), out.filter(pa.array(flag))
    input_table = expected["input"].append_column(
        "is_synthetic", pa.array(np.zeros(expected["input"].num_rows, bool))
    )
    assert rows(real) == rows(input_table), "real rows differ from the input rows"
    assert class_counts(out) == expected["counts_after"]
    assert synthetic.num_rows == expected["synthetic"].num_rows
    assert rows(synthetic) == rows(expected["synthetic"]), "synthetic rows differ from the CLI's"


# ---------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def beam_inputs(tmp_path_factory, mixed_table):
    """The mixed table as 3 Parquet files with several row groups each."""
    folder = tmp_path_factory.mktemp("beam_in")
    n = mixed_table.num_rows
    for i, start in enumerate(range(0, n, 100)):
        pq.write_table(mixed_table.slice(start, 100), folder / f"part-{i}.parquet", row_group_size=40)
    return folder


@pytest.fixture(scope="module")
def expected(beam_inputs, mixed_artifact):
    """What the core (the CLI's code path) produces for the same data, artifact and seed."""
    paths = sorted(glob.glob(str(beam_inputs / "*.parquet")))
    summary = api.balance(paths, None, label="label", model_dir=str(mixed_artifact),
                          sampling_strategy=STRATEGY, seed=SEED)
    table = summary["table"]
    flag = table.column("is_synthetic").to_numpy()
    input_table = pa.concat_tables([pq.read_table(p) for p in paths])
    counts = class_counts(input_table)
    assert summary["counts_after"] == target_counts(counts, STRATEGY)
    return {
        "paths": paths,
        "input": input_table,
        "synthetic": table.filter(pa.array(flag)),
        "counts_after": summary["counts_after"],
    }


def balance_job_args(beam_inputs, mixed_artifact, out, *extra):
    return [
        "--input", str(beam_inputs), "--output", str(out), "--model-dir", str(mixed_artifact),
        "--label", "label", "--sampling-strategy", json.dumps(STRATEGY), "--seed", str(SEED),
        "--rows-per-shard", str(BLOCK_ROWS), *extra,
    ]


# ---------------------------------------------------------------- three runners
def test_balance_in_process_matches_cli(beam_inputs, mixed_artifact, expected):
    with BeamTestPipeline(runner=RUNNER) as p:
        out = (
            p
            | ReadParquetTables(str(beam_inputs))
            | BalanceClasses(str(mixed_artifact), "label", STRATEGY, SEED,
                             rows_per_shard=BLOCK_ROWS)
        )

        def check(tables):
            try:
                check_balanced(concat(tables), expected)
            except AssertionError as exc:
                raise BeamAssertException(str(exc)) from exc

        assert_that(out, check)


def test_balance_job_multi_processing(beam_inputs, mixed_artifact, expected, tmp_path):
    """Two worker subprocesses: every DoFn, side input and the Shared model handle pickle."""
    from pipelines import balance

    out = tmp_path / "out"
    summary = balance.run(balance_job_args(
        beam_inputs, mixed_artifact, out, "--runner", RUNNER,
        "--direct_running_mode", "multi_processing", "--direct_num_workers", "2",
    ))
    check_balanced(read_dir(out), expected)
    assert summary["real_rows"] == expected["input"].num_rows
    assert summary["synthetic_rows"] == expected["synthetic"].num_rows
    schema = pq.read_schema(glob.glob(str(out / "synthetic*.parquet"))[0])
    assert schema.equals(model_meta(str(mixed_artifact))[0].output_schema, check_metadata=False)


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, memory_limit=None,
    )
    try:
        yield cluster
    finally:
        cluster.close()


def test_balance_job_on_dask(beam_inputs, mixed_artifact, expected, tmp_path, dask_cluster):
    """Beam's DaskRunner against a LocalCluster of 2 worker processes on loopback."""
    from pipelines import balance

    out = tmp_path / "out"
    balance.run(balance_job_args(
        beam_inputs, mixed_artifact, out,
        "--runner", "apache_beam.runners.dask.dask_runner.DaskRunner",
        "--dask_client_address", dask_cluster.scheduler_address,
    ))
    check_balanced(read_dir(out), expected)
    assert not glob.glob(str(out / "beam-temp-*"))
    # partitioned (a group-by and a write per partition): the same rows, read back whole
    from vae_augment.io import read_table, resolve_inputs

    parted = tmp_path / "parted"
    balance.run(balance_job_args(
        beam_inputs, mixed_artifact, parted, "--partition-by", "label", "--num-shards", "2",
        "--runner", "apache_beam.runners.dask.dask_runner.DaskRunner",
        "--dask_client_address", dask_cluster.scheduler_address,
    ))
    assert sorted(os.listdir(parted)) == ["label=a", "label=b", "label=c"]
    check_balanced(read_table(resolve_inputs(str(parted))), expected)
    # the model was loaded in the cluster's worker processes, not only in this one
    from distributed import Client

    with Client(dask_cluster) as client:
        loaded = client.run(_worker_loaded_model)
    assert len(loaded) == 2 and any(loaded.values()), loaded


def _worker_loaded_model():
    import sys

    return "vae_augment.sampler" in sys.modules and "vae_augment.beam._shared" in sys.modules


# ---------------------------------------------------------------- transforms
def test_generate_synthetic_equals_api_sample(mixed_artifact, tmp_path):
    counts = {"a": 300, "b": 0, "c": 20}
    reference = api.sample(str(mixed_artifact), counts, seed=3)
    with BeamTestPipeline(runner=RUNNER) as p:
        out = p | GenerateSynthetic(str(mixed_artifact), counts, 3, rows_per_shard=1)

        def check(tables):
            table = concat(tables)
            if rows(table) != rows(reference):
                raise BeamAssertException("GenerateSynthetic rows differ from api.sample")
            if sorted(t.num_rows for t in tables) != [20, 300]:  # one table per block
                raise BeamAssertException(f"tables of {[t.num_rows for t in tables]} rows")

        assert_that(out, check)


def test_generate_synthetic_gathers_blocks_into_tables(mixed_artifact):
    """Tables hold whole blocks, one table per shard, at most TABLE_ROWS rows."""
    from vae_augment.beam.generate import TABLE_ROWS

    n = TABLE_ROWS + 2 * BLOCK_ROWS + 5
    reference = api.sample(str(mixed_artifact), {"a": n}, seed=4)
    with BeamTestPipeline(runner=RUNNER) as p:
        out = p | GenerateSynthetic(str(mixed_artifact), {"a": n}, 4, rows_per_shard=n)

        def check(tables):
            if sorted(t.num_rows for t in tables) != [2 * BLOCK_ROWS + 5, TABLE_ROWS]:
                raise BeamAssertException(f"tables of {[t.num_rows for t in tables]} rows")
            if rows(concat(tables)) != rows(reference):
                raise BeamAssertException("GenerateSynthetic rows differ from api.sample")

        assert_that(out, check)


def test_generate_synthetic_with_a_class_guide_equals_the_sampler(guided_artifact):
    """A guided model's redraws run inside the Beam workers' generation too: same rows."""
    assert load_artifact(str(guided_artifact)).model.guide_iterations > 0
    n = BLOCK_ROWS + 5
    reference = api.sample(str(guided_artifact), {"a": n}, seed=3, guided=True)
    with BeamTestPipeline(runner=RUNNER) as p:
        out = p | GenerateSynthetic(str(guided_artifact), {"a": n}, 3, rows_per_shard=n,
                                    guided=True)

        def check(tables):
            if rows(concat(tables)) != rows(reference):
                raise BeamAssertException("GenerateSynthetic rows differ from api.sample")

        assert_that(out, check)


def test_balance_classes_generates_the_guided_rows_balance_does(beam_inputs, guided_artifact):
    """`BalanceClasses` balances with the model's class guide, as `api.balance` (and the
    CLI's `balance`) do, while `GenerateSynthetic` draws once per row unless asked."""
    paths = sorted(glob.glob(str(beam_inputs / "*.parquet")))
    summary = api.balance(paths, None, label="label", model_dir=str(guided_artifact),
                          sampling_strategy=STRATEGY, seed=SEED)
    table = summary["table"]
    want = table.filter(table.column("is_synthetic"))
    generated = {c: n for c, n in summary["generated"].items() if n}
    plain = api.sample(str(guided_artifact), generated, seed=SEED)
    assert rows(plain.cast(want.schema)) != rows(want)  # the guide changed some rows
    with BeamTestPipeline(runner=RUNNER) as p:
        out = (p | ReadParquetTables(str(beam_inputs))
               | BalanceClasses(str(guided_artifact), "label", STRATEGY, SEED,
                                rows_per_shard=BLOCK_ROWS))

        def check(tables):
            got = concat(tables)
            if rows(got.filter(got.column("is_synthetic"))) != rows(want):
                raise BeamAssertException("BalanceClasses' rows differ from api.balance's")

        assert_that(out, check)


def test_runs_in_process_and_warm_up(mixed_artifact):
    import argparse

    from apache_beam.options.pipeline_options import PipelineOptions

    import pipelines
    from vae_augment.beam._shared import acquire_model

    def opts(*args):  # as the jobs parse them: FnApiRunner unless --runner is given
        return pipelines.parse_args(argparse.ArgumentParser(), list(args))[1]

    assert pipelines.runs_in_process(opts())  # the jobs' default FnApiRunner
    assert pipelines.runs_in_process(opts("--direct_running_mode=multi_threading"))
    assert not pipelines.runs_in_process(opts("--direct_running_mode=multi_processing"))
    assert not pipelines.runs_in_process(opts("--runner=DataflowRunner"))
    assert not pipelines.runs_in_process(PipelineOptions(["--runner=FlinkRunner"]))
    # the background load fills the transform's Shared handle: the DoFns get the same model
    bal = BalanceClasses(str(mixed_artifact), "label", seed=0)
    bal.warm_up().join(timeout=120)
    assert True in acquire_model(bal._shared, str(mixed_artifact))._samplers


def test_one_shared_model_however_the_directory_is_spelled(mixed_artifact, mixed_table,
                                                          monkeypatch):
    from vae_augment import beam as vbeam
    from vae_augment.beam._shared import shared_handle

    d = str(mixed_artifact)
    monkeypatch.chdir(mixed_artifact.parent)
    spellings = [d, d + "/", mixed_artifact.name, "./" + mixed_artifact.name + "/"]
    assert len({id(shared_handle(s)) for s in spellings}) == 1
    assert shared_handle("gs://b/runs/x") is shared_handle("gs://b/runs/x/")
    assert shared_handle(d) is not shared_handle(d + "_other")
    score = ScoreAnomalies(d)
    bal = BalanceClasses(d + "/", "label", seed=0)
    assert score._shared is bal._shared
    # ... and one spelling everywhere after it (the load tag, the warm-up, remote copies), so
    # transforms that name the directory differently do not reload the model in turn
    assert score._model_dir == bal._model_dir == d == ScoreAnomalies(spellings[2])._model_dir
    # the columns the scoring transforms append, for the user's own steps
    assert (vbeam.SCORE_COLUMN, vbeam.LATENT_COLUMN) == ("anomaly_score", "latent")
    assert score.output_schema(mixed_table.schema).names[-1] == vbeam.SCORE_COLUMN
    # the default input schema is the training one (mixed_table is what the model was fit on)
    assert score.output_schema().equals(score.output_schema(mixed_table.schema))


def test_sample_job_matches_api(mixed_artifact, tmp_path):
    from pipelines import sample

    summary = sample.run(["--output", str(tmp_path / "s"), "--model-dir", str(mixed_artifact),
                          "--n", "50", "--class", "b", "--seed", "5", "--runner", RUNNER])
    assert summary["synthetic_rows"] == 50
    assert rows(read_dir(tmp_path / "s")) == rows(api.sample(str(mixed_artifact), {"b": 50}, seed=5))


def test_plan_shards_uses_whole_blocks(mixed_artifact):
    encoding, _ = model_meta(str(mixed_artifact))
    shards = plan_shards(encoding, {"a": 3 * BLOCK_ROWS + 5, "b": 0, "c": 10}, 2 * BLOCK_ROWS)
    assert [(s[0], [b for b, _ in s[2]]) for s in shards] == [("a", [0, 1]), ("a", [2, 3]), ("c", [0])]
    assert sum(r for s in shards for _, r in s[2]) == 3 * BLOCK_ROWS + 15
    # rows_per_shard rounds up to whole blocks
    assert len(plan_shards(encoding, {"a": 2 * BLOCK_ROWS}, 1)) == 2
    with pytest.raises(VAEAugmentError, match="class 'a' must be a non-negative integer"):
        plan_shards(encoding, {"a": -1})
    with pytest.raises(VAEAugmentError, match="not one of the model's classes"):
        plan_shards(encoding, {"zz": 3})
    with pytest.raises(VAEAugmentError, match="`rows_per_shard` must be a positive integer"):
        GenerateSynthetic(str(mixed_artifact), {"a": 1}, rows_per_shard=0)


def test_count_classes_combine(mixed_table):
    tables = [mixed_table.slice(i, 37) for i in range(0, mixed_table.num_rows, 37)]
    with BeamTestPipeline(runner=RUNNER) as p:
        counts = p | beam.Create(tables) | CountClasses("label")
        assert_that(counts, lambda got: _eq(got, [class_counts(mixed_table)]))
    with BeamTestPipeline(runner=RUNNER) as p:
        empty = p | beam.Create([]).with_output_types(pa.Table) | CountClasses("label")
        assert_that(empty, lambda got: _eq(got, [{}]))


def _eq(got, want):
    if list(got) != want:
        raise BeamAssertException(f"got {got}, want {want}")


def test_balance_rejects_wrong_label_and_strategy(mixed_artifact):
    with pytest.raises(VAEAugmentError, match="trained with label 'label', not 'f'"):
        BalanceClasses(str(mixed_artifact), "f")
    with pytest.raises(VAEAugmentError, match="names classes"):
        BalanceClasses(str(mixed_artifact), "label", '{"zz": 4}')
    with pytest.raises(VAEAugmentError, match="`seed` must be an integer"):
        BalanceClasses(str(mixed_artifact), "label", seed="x")


def _with_bad_rows(mixed_table):
    """The table with one unknown label and one unknown category."""
    good = mixed_table.slice(0, 120)
    labels = good.column("label").to_pylist()
    labels[5] = "zz"
    cats = good.column("s").to_pylist()
    cats[17] = "never-seen"
    table = good.set_column(good.schema.get_field_index("label"), good.schema.field("label"),
                            pa.array(labels))
    return table.set_column(table.schema.get_field_index("s"), table.schema.field("s"),
                            pa.array(cats))


def test_balance_dead_letter(mixed_artifact, mixed_table):
    table = _with_bad_rows(mixed_table)
    wrong_type = mixed_table.slice(0, 4).cast(
        mixed_table.schema.set(0, pa.field("f", pa.string()))
    )
    with BeamTestPipeline(runner=RUNNER) as p:
        good, bad = (
            p | beam.Create([table, wrong_type])
            | BalanceClasses(str(mixed_artifact), "label", "auto", 0).with_exception_handling()
        )

        def check_bad(items):
            by_size = sorted(items, key=lambda b: b.rows.num_rows)
            if [b.rows.num_rows for b in by_size] != [1, 4] or not all(
                isinstance(b, BadRows) for b in by_size
            ):
                raise BeamAssertException(f"unexpected dead letters {items}")
            if by_size[0].rows.column("label").to_pylist() != ["zz"] or "'label'" not in by_size[0].error:
                raise BeamAssertException(f"wrong bad row {by_size[0]}")
            if "column 'f' has type string, expected double" not in by_size[1].error:
                raise BeamAssertException(by_size[1].error)

        def check_good(tables):
            real = concat(tables).filter(pa.array(~concat(tables).column("is_synthetic").to_numpy()))
            if real.num_rows != 119:  # balance passes unknown categories through, as the CLI does
                raise BeamAssertException(f"{real.num_rows} real rows")

        assert_that(bad, check_bad, label="bad")
        assert_that(good, check_good, label="good")

    with pytest.raises(Exception, match="`label` column 'label' has classes \\['zz'\\]"):
        with BeamTestPipeline(runner=RUNNER) as p:
            _ = p | beam.Create([table]) | BalanceClasses(str(mixed_artifact), "label")


def test_encode_and_score_match_core(mixed_artifact, mixed_table):
    art = load_artifact(str(mixed_artifact))
    table = mixed_table.slice(0, 150)
    want_z = scoring.encode_latent(art, table)
    want_s = scoring.anomaly_scores(art, table)
    pieces = [table.slice(0, 64), table.slice(64)]
    with BeamTestPipeline(runner=RUNNER) as p:
        out = (p | beam.Create(pieces) | EncodeLatent(str(mixed_artifact))
               | ScoreAnomalies(str(mixed_artifact)))

        def check(tables):
            got = concat(sorted(tables, key=lambda t: t.num_rows))
            z = np.asarray(got.column("latent").combine_chunks().flatten()).reshape(len(got), -1)
            np.testing.assert_allclose(z, want_z, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(got.column("anomaly_score").to_numpy(), want_s,
                                       rtol=1e-4, atol=1e-4)
            assert got.select(table.column_names).equals(table)

        assert_that(out, check)


def test_score_dead_letter_isolates_bad_rows(mixed_artifact, mixed_table):
    table = _with_bad_rows(mixed_table)
    with BeamTestPipeline(runner=RUNNER) as p:
        good, bad = p | beam.Create([table]) | ScoreAnomalies(
            str(mixed_artifact), method="iwae", k=4).with_exception_handling()

        def check_bad(items):
            if len(items) != 2 or any(b.rows.num_rows != 1 for b in items):
                raise BeamAssertException(f"dead letters {items}")
            errors = {b.rows.column("label")[0].as_py(): b.error for b in items}
            if not errors.get("zz", "").startswith(
                    "the model's label column 'label' has classes ['zz']"):
                raise BeamAssertException(f"errors {errors}")
            other = [e for k, e in errors.items() if k != "zz"]
            if len(other) != 1 or not other[0].startswith("column 's' has categories ['never-seen']"):
                raise BeamAssertException(f"errors {errors}")
            if "(row 17 of the table)" not in other[0]:  # its place in the element, not "row 0"
                raise BeamAssertException(f"errors {errors}")

        def check_good(tables):
            got = concat(tables)
            if got.num_rows != 118 or not np.isfinite(got.column("anomaly_score").to_numpy()).all():
                raise BeamAssertException(f"{got.num_rows} scored rows")

        assert_that(bad, check_bad, label="bad")
        assert_that(good, check_good, label="good")

    # a (path, table) element, as ReadParquetTables(with_filename=True) gives: the error
    # names the file, and the row within its row group
    with pytest.raises(Exception, match=r"input 'in/x\.parquet': column 's' has categories "
                                        r"\['never-seen'\].*the first is row 7 of its row "
                                        r"group\)"):
        with BeamTestPipeline(runner=RUNNER) as p:
            _ = (p | beam.Create([("in/x.parquet", table.slice(10))])
                 | ScoreAnomalies(str(mixed_artifact)))


def test_score_unseen_categories_infinite_instead_of_dead_letter(mixed_artifact, mixed_table):
    table = _with_bad_rows(mixed_table)  # row 5: unknown label, row 17: unseen category
    with BeamTestPipeline(runner=RUNNER) as p:
        good, bad = p | beam.Create([table]) | ScoreAnomalies(
            str(mixed_artifact), unseen="inf").with_exception_handling()

        def check_bad(items):  # only the unknown label is still a bad row
            if [b.rows.column("label")[0].as_py() for b in items] != ["zz"]:
                raise BeamAssertException(f"dead letters {items}")

        def check_good(tables):
            got = concat(tables)
            s = dict(zip(got.column("s").to_pylist(), got.column("anomaly_score").to_numpy()))
            if got.num_rows != 119 or not np.isposinf(s["never-seen"]):
                raise BeamAssertException(f"{got.num_rows} rows, never-seen {s.get('never-seen')}")

        assert_that(bad, check_bad, label="bad")
        assert_that(good, check_good, label="good")
    with pytest.raises(VAEAugmentError, match="`unseen` must be one of"):
        ScoreAnomalies(str(mixed_artifact), unseen="drop")


def test_score_job_with_dead_letter(mixed_artifact, mixed_table, tmp_path):
    from pipelines import score

    src = tmp_path / "in"
    src.mkdir()
    # row groups of 10 rows: row 17 is row 7 of the second, found by its column statistics
    pq.write_table(_with_bad_rows(mixed_table), src / "x.parquet", row_group_size=10)
    summary = score.run(["--input", str(src), "--output", str(tmp_path / "o"), "--model-dir",
                         str(mixed_artifact), "--latent", "--dead-letter", str(tmp_path / "bad"),
                         "--runner", RUNNER])
    out = read_dir(tmp_path / "o")
    assert out.num_rows == 118 and summary["bad_rows"] == 2
    assert out.column_names[-2:] == ["latent", "anomaly_score"]
    lines = [json.loads(x) for f in glob.glob(str(tmp_path / "bad*.jsonl")) for x in open(f)]
    assert len(lines) == 2
    assert {x["row"]["s"] for x in lines} >= {"never-seen"}
    assert "zz" in {x["row"]["label"] for x in lines}
    # each names its file, and its row in it (the file's footer tells where Beam's row
    # group starts)
    assert {x["file"] for x in lines} == {str(src / "x.parquet")}
    error = next(x["error"] for x in lines if x["row"]["s"] == "never-seen")
    assert error.endswith("(row 17 of its file)"), error
    error = next(x["error"] for x in lines if x["row"]["label"] == "zz")
    assert error.endswith("(row 5 of its file)"), error
    # --unseen-categories inf: the unseen category's row is kept (score +inf, latent NaN)
    summary = score.run(["--input", str(src), "--output", str(tmp_path / "o2"), "--model-dir",
                         str(mixed_artifact), "--latent", "--dead-letter", str(tmp_path / "bad2"),
                         "--unseen-categories", "inf", "--runner", RUNNER])
    out = read_dir(tmp_path / "o2")
    assert out.num_rows == 119 and summary["bad_rows"] == 1
    row = out.filter(pc.equal(out.column("s"), "never-seen"))
    assert np.isposinf(row.column("anomaly_score").to_numpy()).all()
    assert np.isnan(np.asarray(row.column("latent").combine_chunks().flatten())).all()
    # --kind marginal: the label is not read, so the unknown label's row is scored too
    summary = score.run(["--input", str(src), "--output", str(tmp_path / "o3"), "--model-dir",
                         str(mixed_artifact), "--kind", "marginal", "--dead-letter",
                         str(tmp_path / "bad3"), "--runner", RUNNER])
    out = read_dir(tmp_path / "o3")
    assert out.num_rows == 119 and summary["bad_rows"] == 1
    assert "zz" in out.column("label").to_pylist()
    assert np.isfinite(out.column("anomaly_score").to_numpy()).all()
    with pytest.raises(VAEAugmentError, match="`--kind marginal` scores rows without their label"):
        score.run(["--input", str(src), "--output", str(tmp_path / "o4"), "--model-dir",
                   str(mixed_artifact), "--kind", "marginal", "--latent", "--runner", RUNNER])


def _strict_types(schema: pa.Schema) -> list[str]:
    """Each field with its full type, list child names included (`pa.Schema.equals` ignores
    them)."""
    return [f"{f.name}: {f.type} {f.nullable}" + "".join(
        f" <{f.type.value_field.name} {f.type.value_field.nullable}>"
        for _ in [0] if pa.types.is_fixed_size_list(f.type) or pa.types.is_list(f.type))
        for f in schema]


def test_encode_latent_and_the_cli_give_the_same_arrow_types(mixed_artifact, mixed_parquet,
                                                             tmp_path):
    """The latent column's list child is `element` everywhere: in EncodeLatent's tables, its
    `output_schema`, and the files the CLI and the Beam job write (was `item` in memory)."""
    from pipelines import score
    from vae_augment.cli import main

    cli_out = tmp_path / "cli.parquet"
    assert main(["score", str(mixed_parquet), str(cli_out), "--model-dir", str(mixed_artifact),
                 "--latent", "--quiet"]) == 0
    want = _strict_types(pq.read_schema(cli_out))
    assert "latent: fixed_size_list<element: float>[4] False <element True>" in want
    score.run(["--input", str(mixed_parquet), "--output", str(tmp_path / "beam"),
               "--model-dir", str(mixed_artifact), "--latent", "--runner", RUNNER])
    assert _strict_types(read_dir(tmp_path / "beam").schema) == want
    steps = [EncodeLatent(str(mixed_artifact)), ScoreAnomalies(str(mixed_artifact))]
    schema = pq.read_schema(mixed_parquet)
    for step in steps:
        schema = step.output_schema(schema)
    assert _strict_types(schema) == want
    with BeamTestPipeline(runner=RUNNER) as p:
        got = p | ReadParquetTables(str(mixed_parquet)) | steps[0] | steps[1]

        def check(tables):
            for t in tables:
                if _strict_types(t.schema) != want:
                    raise BeamAssertException(f"{_strict_types(t.schema)} != {want}")

        assert_that(got, check)


def test_balance_job_errors(beam_inputs, mixed_artifact, tmp_path, capsys):
    from pipelines import balance
    from pipelines import main as job_main

    args = balance_job_args(beam_inputs, mixed_artifact, tmp_path / "o")
    args[args.index("--label") + 1] = "f"
    assert job_main("pipelines.balance", balance.run, args) == 2
    assert "trained with label 'label', not 'f'" in capsys.readouterr().err
    existing = tmp_path / "full"
    existing.mkdir()
    (existing / "real-00000-of-00001.parquet").write_bytes(b"x")
    args = balance_job_args(beam_inputs, mixed_artifact, existing)
    assert job_main("pipelines.balance", balance.run, args) == 2
    assert "pass --overwrite" in capsys.readouterr().err


def test_score_wrong_schema_goes_to_dead_letter_or_fails(mixed_artifact, mixed_table):
    wrong_type = mixed_table.slice(0, 4).cast(mixed_table.schema.set(0, pa.field("f", pa.string())))
    with BeamTestPipeline(runner=RUNNER) as p:
        good, bad = p | beam.Create([wrong_type]) | ScoreAnomalies(
            str(mixed_artifact)).with_exception_handling()

        def check_bad(items):
            if [b.rows.num_rows for b in items] != [4] or (
                    "column 'f' has type string; the model expects numbers" not in items[0].error):
                raise BeamAssertException(f"dead letters {items}")

        def check_good(tables):
            if tables:
                raise BeamAssertException(f"unexpected output {tables}")

        assert_that(bad, check_bad, label="bad")
        assert_that(good, check_good, label="good")

    with pytest.raises(Exception, match="does not match the schema the model was trained on"):
        with BeamTestPipeline(runner=RUNNER) as p:
            _ = p | beam.Create([wrong_type]) | ScoreAnomalies(str(mixed_artifact))


def test_score_anomalies_marginal_takes_tables_without_a_label(mixed_artifact, mixed_table):
    art = load_artifact(str(mixed_artifact))
    table = mixed_table.slice(0, 120).drop(["label"])
    want = scoring.anomaly_scores(art, mixed_table.slice(0, 120), kind="marginal")
    step = ScoreAnomalies(str(mixed_artifact), kind="marginal")
    step.check_input_schema(table.schema)  # no label column: fine when marginal
    with pytest.raises(VAEAugmentError, match=r"column 'label' not found.*\(to score rows "
                                              r"without a label: kind='marginal'\)$"):
        ScoreAnomalies(str(mixed_artifact)).check_input_schema(table.schema)
    # a marginal score's other problem does not suggest the marginal score it already is
    wrong = table.set_column(0, "f", pa.array(["x"] * table.num_rows)).schema
    with pytest.raises(VAEAugmentError, match=r"column 'f' has type string; the model expects "
                                              r"numbers$"):
        step.check_input_schema(wrong)
    with BeamTestPipeline(runner=RUNNER) as p:
        good, bad = (p | beam.Create([table.slice(0, 50), table.slice(50)])
                     | step.with_exception_handling())

        def check(tables):
            got = concat(sorted(tables, key=lambda t: t.num_rows, reverse=True))
            np.testing.assert_allclose(got.column("anomaly_score").to_numpy(),
                                       np.concatenate([want[50:], want[:50]]), rtol=1e-5,
                                       atol=1e-4)

        assert_that(good, check, label="good")
        assert_that(bad, lambda items: None if not items else (_ for _ in ()).throw(
            BeamAssertException(f"bad rows {items}")), label="bad")


def _list_images(table: pa.Table, short: tuple[int, ...] = ()) -> pa.Table:
    """`table` with its image column as a variable-length list<uint8> (the rows `short`
    holding 10 values)."""
    img = table.column("img").to_pylist()
    for i in short:
        img[i] = img[i][:10]
    return table.set_column(table.schema.get_field_index("img"),
                            pa.field("img", pa.list_(pa.uint8())),
                            pa.array(img, pa.list_(pa.uint8())))


def test_balance_job_writes_a_variable_length_image_column_as_it_came(
        mixed_artifact, mixed_table, tmp_path):
    """`pipelines.balance` refused a list<uint8> image column of the model's 64 values a
    row ("does not match the schema"): it now writes the CLI's rows, the image column as
    list<uint8> in the real and the synthetic files alike."""
    from pipelines import balance

    src = tmp_path / "var.parquet"
    pq.write_table(_list_images(mixed_table), src)
    out = tmp_path / "o"
    balance.run(["--input", str(src), "--output", str(out), "--model-dir", str(mixed_artifact),
                 "--label", "label", "--seed", "0", "--runner", RUNNER])
    files = sorted(glob.glob(str(out / "*.parquet")))
    assert {os.path.basename(f).split("-")[0] for f in files} == {"real", "synthetic"}
    for f in files:
        assert pq.read_schema(f).field("img").type == pa.list_(pa.uint8())
    got = pa.concat_tables([pq.read_table(f) for f in files])
    want = api.balance(str(src), label="label", model_dir=str(mixed_artifact), seed=0)["table"]
    key = [("is_synthetic", "ascending"), ("label", "ascending"), ("i", "ascending"),
           ("f32", "ascending")]
    assert got.sort_by(key).equals(want.select(got.column_names).sort_by(key))


def test_balance_dead_letters_count_rows_in_their_file(mixed_artifact, mixed_table, tmp_path):
    """Read with its file name, an element is one row group: its bad rows are counted in the
    file (the footer says where the group starts; three alike in length here, told apart by
    their column statistics), a label error after a row of another length left as well.
    Each unknown class's row is a dead letter of its own, naming its class and its row (one
    letter held both, each of its JSON lines saying "2 rows; the first is row 110")."""
    labels = mixed_table.column("label").to_pylist()
    labels[110], labels[150], labels[160] = "zz", "yy", "zz"
    table = _list_images(mixed_table, short=(103,))
    table = table.set_column(table.schema.get_field_index("label"),
                             table.schema.field("label"), pa.array(labels))
    path = str(tmp_path / "x.parquet")
    pq.write_table(table, path, row_group_size=100)
    step = BalanceClasses(str(mixed_artifact), "label", input_schema=table.schema)
    with BeamTestPipeline(runner=RUNNER) as p:
        _, bad = (p | ReadParquetTables(path, with_filename=True)
                  | step.with_exception_handling())

        def check_bad(items):
            got = sorted((b.file, b.rows.num_rows, b.error) for b in items)
            unknown = ("`label` column 'label' has classes ['{}'] the model was not trained "
                       "on (known: ['a', 'b', 'c']) (row {} of its file)")
            if got != sorted([
                    (path, 1, unknown.format("zz", 110)), (path, 1, unknown.format("yy", 150)),
                    (path, 1, unknown.format("zz", 160)),
                    (path, 1, "column 'img' has lists of another length than the model's 64 "
                              "values (row 103 of its file)")]):
                raise BeamAssertException(f"dead letters {got}")

        assert_that(bad, check_bad)


def test_balance_dead_letters_count_rows_in_their_file_when_statistics_cannot_tell(
        mixed_artifact, mixed_table, tmp_path):
    """Three row groups of the same rows in other orders (one unknown class in each) have
    the same footer statistics, as an image table's do: the dead letters said "(row 10 of
    its row group)" for rows of three row groups. Their values tell them apart."""
    labels = mixed_table.column("label").to_pylist()
    labels[10] = "zz"
    group = mixed_table.slice(0, 100).set_column(
        mixed_table.schema.get_field_index("label"), mixed_table.schema.field("label"),
        pa.array(labels[:100]))
    rng = np.random.default_rng(0)
    orders = [np.arange(100), rng.permutation(100), rng.permutation(100)]
    path = str(tmp_path / "x.parquet")
    pq.write_table(pa.concat_tables([group.take(o) for o in orders]), path, row_group_size=100)
    want = sorted(k * 100 + int(np.flatnonzero(o == 10)[0]) for k, o in enumerate(orders))
    step = BalanceClasses(str(mixed_artifact), "label")
    with BeamTestPipeline(runner=RUNNER) as p:
        _, bad = (p | ReadParquetTables(path, with_filename=True)
                  | step.with_exception_handling())

        def check_bad(items):
            got = sorted(b.error for b in items)
            if got != [f"`label` column 'label' has classes ['zz'] the model was not trained "
                       f"on (known: ['a', 'b', 'c']) (row {r} of its file)" for r in want]:
                raise BeamAssertException(f"dead letters {got}, rows {want}")

        assert_that(bad, check_bad)


def test_balance_classes_checks_a_variable_length_image_column_row_by_row(
        mixed_artifact, mixed_table):
    """Without `input_schema`, `BalanceClasses` refuses a list<uint8> image column in one
    line that says what to do; with it, a row of another length fails the pipeline naming
    the column and the row, or is a dead letter."""
    var, ragged = _list_images(mixed_table), _list_images(mixed_table, short=(3,))
    with pytest.raises(Exception, match=r"column 'img' has type list<item: uint8>, expected "
                                        r"fixed_size_list<element: uint8>\[64\] \(a "
                                        r"variable-length list: cast it to that fixed-size "
                                        r"list of 64 values\)"):
        with BeamTestPipeline(runner=RUNNER) as p:
            _ = p | beam.Create([var]) | BalanceClasses(str(mixed_artifact), "label")
    # a (path, table) element (pipelines.balance reads so): the error names the file
    with pytest.raises(Exception, match=r"input 'r\.parquet': column 'img' has lists of "
                                        r"another length than the model's 64 values \(row 3 "
                                        r"of its row group\)"):
        with BeamTestPipeline(runner=RUNNER) as p:
            _ = p | beam.Create([("r.parquet", ragged)]) | BalanceClasses(
                str(mixed_artifact), "label", input_schema=ragged.schema)
    step = BalanceClasses(str(mixed_artifact), "label", input_schema=ragged.schema)
    assert step.output_schema.field("img").type == pa.list_(pa.uint8())
    with BeamTestPipeline(runner=RUNNER) as p:
        good, bad = p | beam.Create([ragged]) | step.with_exception_handling()

        def check_bad(items):
            if [(b.rows.num_rows, b.error) for b in items] != [(1, (
                    "column 'img' has lists of another length than the model's 64 values "
                    "(row 3 of the table)"))]:
                raise BeamAssertException(f"dead letters {items}")

        def check_good(tables):
            t = concat(tables)
            if (t.schema.field("img").type != pa.list_(pa.uint8())
                    or pc.sum(pc.invert(t.column("is_synthetic"))).as_py() != ragged.num_rows - 1
                    or set(pc.list_value_length(t.column("img")).to_pylist()) != {64}):
                raise BeamAssertException(f"output {t.schema}")

        assert_that(bad, check_bad, label="bad")
        assert_that(good, check_good, label="good")
