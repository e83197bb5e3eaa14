"""End-to-end CLI: fit, sample, balance; schema, row preservation, counts, determinism, errors."""

import json
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq
import pytest

from .conftest import FAST, FAST_ARGS, REPO, make_mixed_table
from .conftest import run_cli as run


def rows_as_set(table: pa.Table) -> list:
    return sorted(map(repr, table.to_pylist()))


@pytest.fixture(scope="module")
def trained_balance(tmp_path_factory, mixed_parquet):
    """`balance` with no saved model (it trains, with the tiny settings and seed 0) into a new
    `--model-dir`, run once for the tests of that run: its output, its stdout, the model
    directory it wrote and that model file's modification time."""
    d = tmp_path_factory.mktemp("trained_balance")
    out, model_dir = d / "bal.parquet", d / "new_model"
    code, stdout, err = run(["balance", mixed_parquet, out, "--label", "label",
                             "--model-dir", model_dir, "--seed", "0", *FAST_ARGS])
    assert code == 0, err
    return {"out": out, "bytes": out.read_bytes(), "stdout": stdout, "model_dir": model_dir,
            "stamp": (model_dir / "model.keras").stat().st_mtime_ns}


def test_balance_trains_and_preserves_every_row(mixed_parquet, trained_balance):
    out, stdout = trained_balance["out"], trained_balance["stdout"]
    real = pq.read_table(mixed_parquet)
    got = pq.read_table(out)
    # schema: exactly the input's plus is_synthetic, metadata kept
    assert got.schema.equals(real.schema.append(pa.field("is_synthetic", pa.bool_(), False)),
                             check_metadata=True)
    flag = got.column("is_synthetic").to_numpy()
    real_back = got.filter(pa.array(~flag)).drop_columns(["is_synthetic"])
    assert real_back.equals(real)  # every input row, unchanged, once, in order
    counts = dict(zip(*np.unique(got.column("label").to_numpy(zero_copy_only=False), return_counts=True)))
    n_major = max(dict(zip(*np.unique(real.column("label").to_numpy(zero_copy_only=False),
                                      return_counts=True))).values())
    assert set(counts.values()) == {n_major}
    assert "before" in stdout and "after" in stdout


@pytest.mark.parametrize("strategy,expected", [
    ("minority", {"a": 186, "b": 71, "c": 186}),
    ("not minority", {"a": 186, "b": 186, "c": 43}),
    ("all", {"a": 186, "b": 186, "c": 186}),
    ('{"b": 100, "c": 50}', {"a": 186, "b": 100, "c": 50}),
])
def test_strategies_with_saved_model(tmp_path, mixed_parquet, mixed_artifact, capsys, strategy, expected):
    real = pq.read_table(mixed_parquet)
    before = dict(zip(*np.unique(real.column("label").to_numpy(zero_copy_only=False), return_counts=True)))
    assert before == {"a": 186, "b": 71, "c": 43}
    out = tmp_path / "out.parquet"
    code, _, err = run(["balance", mixed_parquet, out, "--label", "label", "--model-dir", mixed_artifact,
                        "--sampling-strategy", strategy, "--quiet"], capsys)
    assert code == 0, err
    got = pq.read_table(out).column("label").to_numpy(zero_copy_only=False)
    assert dict(zip(*np.unique(got, return_counts=True))) == expected


def test_float_strategy_binary(tmp_path, capsys):
    t = make_mixed_table(200, with_tensor=False)
    lab = np.where(np.arange(200) < 20, "yes", "no")
    t = t.set_column(t.schema.get_field_index("label"), "label", pa.array(lab))
    src = tmp_path / "bin.parquet"
    pq.write_table(t, src)
    out = tmp_path / "out.parquet"
    code, _, err = run(["balance", src, out, "--label", "label", "--sampling-strategy", "0.5",
                        *FAST_ARGS], capsys)
    assert code == 0, err
    got = pq.read_table(out).column("label").to_numpy(zero_copy_only=False)
    assert dict(zip(*np.unique(got, return_counts=True))) == {"no": 180, "yes": 90}


def test_same_seed_same_bytes(tmp_path, mixed_parquet, trained_balance, capsys):
    """A second `balance` that trains anew with the same seed writes the same bytes as the
    first (`trained_balance`); another seed writes other bytes."""
    out = tmp_path / "again.parquet"
    assert run(["balance", mixed_parquet, out, "--label", "label", "--model-dir", tmp_path / "m",
                "--seed", "0", *FAST_ARGS], capsys)[0] == 0
    assert out.read_bytes() == trained_balance["bytes"]
    out = tmp_path / "o_other.parquet"
    assert run(["balance", mixed_parquet, out, "--label", "label", "--seed", "4", *FAST_ARGS], capsys)[0] == 0
    assert out.read_bytes() != trained_balance["bytes"]


def test_fit_then_sample_identical_after_reload(tmp_path, mixed_parquet, capsys):
    from vae_augment.api import fit, sample
    from vae_augment.artifact import load_artifact

    model_dir = tmp_path / "m"
    art = fit(str(mixed_parquet), label="label", model_dir=str(model_dir), seed=1, **FAST)
    in_memory = sample(art, {"c": 500, "a": 10}, seed=5)
    reloaded = sample(load_artifact(str(model_dir)), {"c": 500, "a": 10}, seed=5)
    assert in_memory.equals(reloaded)
    out = tmp_path / "s.parquet"
    code, stdout, _ = run(["sample", out, "--model-dir", model_dir, "--class", "c", "--n", "500",
                           "--seed", "5"], capsys)
    assert code == 0 and json.loads(stdout)["rows_written"] == 500
    assert pq.read_table(out).equals(in_memory.slice(0, 500))


def test_images_come_back_as_images(tmp_path, mixed_artifact):
    from vae_augment.api import sample

    synth = sample(str(mixed_artifact), {"c": 100}, seed=0)
    img = synth.column("img").combine_chunks()
    assert img.type == pa.list_(pa.uint8(), 64)
    pixels = img.flatten().to_numpy()
    assert pixels.shape == (6400,) and pixels.min() >= 0 and pixels.max() <= 16
    assert synth.schema.metadata[b"image_shape"] == b"8,8"


def test_sample_blocks_are_shard_independent(mixed_artifact):
    """Rows of a request equal the concatenation of its blocks generated separately."""
    from vae_augment.artifact import load_artifact
    from vae_augment.sampler import BLOCK_ROWS, Sampler

    s = Sampler(load_artifact(str(mixed_artifact)))
    whole = pa.Table.from_batches(list(s.iter_class("b", BLOCK_ROWS + 10, seed=9)))
    second = s.generate_block(1, 9, 1, 10)
    assert pa.Table.from_batches([second]).equals(whole.slice(BLOCK_ROWS))


def test_output_shards(tmp_path, mixed_parquet, mixed_artifact, capsys):
    out = tmp_path / "sharded"
    code, _, err = run(["balance", mixed_parquet, out, "--label", "label", "--model-dir", mixed_artifact,
                        "--output-shards", "3", "--quiet"], capsys)
    assert code == 0, err
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == 3
    assert pq.read_table(out).num_rows == 3 * 186


def test_output_shards_split_rows_in_order(tmp_path, mixed_parquet, mixed_artifact, capsys):
    """Every shard holds a contiguous run of the rows, so the directory reads back with the
    real rows first and in order. Row groups (131,072 rows) went to the shards in turn: an
    output of fewer rows was all in the first file (the others empty), and one of more rows
    than the shards' row groups read back interleaved (row groups 0, 3, 6, 1, 4, ...)."""
    from vae_augment.io import AtomicParquetWriter

    out = tmp_path / "sharded"
    code, _, err = run(["balance", mixed_parquet, out, "--label", "label", "--model-dir",
                        mixed_artifact, "--output-shards", "3", "--quiet"], capsys)
    assert code == 0, err
    sizes = [pq.read_metadata(p).num_rows for p in sorted(out.iterdir())]
    assert len(sizes) == 3 and min(sizes) > 0 and max(sizes) - min(sizes) <= 1, sizes
    real = pq.read_table(mixed_parquet)
    got = pq.read_table(out)
    assert got.slice(0, real.num_rows).drop_columns(["is_synthetic"]).equals(real)
    # more rows than row groups per shard: still in order
    t = pa.table({"i": pa.array(range(100), pa.int64())})
    with AtomicParquetWriter(tmp_path / "w", t.schema, shards=2, row_group_size=10,
                             total_rows=100) as w:
        w.write(t)
    assert pq.read_table(tmp_path / "w")["i"].to_pylist() == list(range(100))


def test_overwrite_required(tmp_path, mixed_parquet, mixed_artifact, capsys):
    out = tmp_path / "exists.parquet"
    out.write_bytes(b"previous")
    code, _, err = run(["balance", mixed_parquet, out, "--label", "label", "--model-dir", mixed_artifact],
                       capsys)
    assert code == 2 and "--overwrite" in err
    assert out.read_bytes() == b"previous"


# ---------------------------------------------------------------------- errors
def _error_case(tmp_path, name):
    if name == "missing_label":
        src = tmp_path / "t.parquet"
        pq.write_table(make_mixed_table(50, with_tensor=False), src)
        return [src, "--label", "nope"], "`--label` column 'nope' not found"
    if name == "one_class":
        t = make_mixed_table(50, with_tensor=False)
        t = t.set_column(t.schema.get_field_index("label"), "label", pa.array(["a"] * 50))
        src = tmp_path / "t.parquet"
        pq.write_table(t, src)
        return [src, "--label", "label"], "single class"
    if name == "corrupt":
        src = tmp_path / "t.parquet"
        src.write_bytes(b"PAR1 this is not parquet")
        return [src, "--label", "label"], "not a readable Parquet file"
    if name == "truncated":
        src = tmp_path / "t.parquet"
        pq.write_table(make_mixed_table(50, with_tensor=False), src)
        src.write_bytes(src.read_bytes()[:-100])
        return [src, "--label", "label"], "not a readable Parquet file"
    if name == "empty":
        src = tmp_path / "t.parquet"
        pq.write_table(make_mixed_table(50, with_tensor=False).slice(0, 0), src)
        return [src, "--label", "label"], "no rows"
    if name == "missing_file":
        return [tmp_path / "nope.parquet", "--label", "label"], "does not exist"
    if name == "id_column":
        t = make_mixed_table(400, with_tensor=False)
        t = t.append_column("user_id", pa.array([f"u{i}" for i in range(400)]))
        src = tmp_path / "t.parquet"
        pq.write_table(t, src)
        return [src, "--label", "label"], "column 'user_id' has more than 200 distinct values.*--exclude user_id"
    raise AssertionError(name)


@pytest.mark.parametrize("case", ["missing_label", "one_class", "corrupt", "truncated", "empty",
                                  "missing_file", "id_column"])
def test_bad_input_one_line_exit_2_no_output(tmp_path, capsys, case):
    import re

    args, message = _error_case(tmp_path, case)
    out = tmp_path / "out.parquet"
    code, stdout, err = run(["balance", args[0], out, *args[1:], *FAST_ARGS], capsys)
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("vae-augment: error: "), err
    assert re.search(message, lines[0]), lines[0]
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_flags_are_not_abbreviated(tmp_path, mixed_parquet, mixed_artifact, capsys):
    """`--out` is an unknown flag, not `--output-shards` (argparse's default prefix match), and
    `--seed` still parses as itself."""
    out = tmp_path / "o.parquet"
    code, _, err = run(["balance", mixed_parquet, "--out", "3", "--label", "label",
                        "--model-dir", mixed_artifact], capsys)
    assert code == 2 and "unrecognized arguments: --out" in err, err
    assert not out.exists()
    code, _, err = run(["sample", "--model-dir", mixed_artifact, "--cla", "a", "--n", "5",
                        tmp_path / "s.parquet"], capsys)
    assert code == 2 and "--cla" in err, err


def test_pipeline_flags_are_not_abbreviated():
    """A Beam job's flags are not prefix-matched either, so a Beam option given to the job
    can never be taken for one of the job's own flags."""
    from pipelines.balance import build_parser

    args, rest = build_parser().parse_known_args(
        ["--input", "i", "--output", "o", "--label", "y", "--model-dir", "md", "--model", "m"])
    assert args.model_dir == "md" and rest == ["--model", "m"]


def test_exclude_makes_id_column_null(tmp_path, capsys):
    t = make_mixed_table(300, with_tensor=False)
    t = t.append_column("user_id", pa.array([f"u{i}" for i in range(300)]))
    src = tmp_path / "t.parquet"
    pq.write_table(t, src)
    out = tmp_path / "o.parquet"
    code, _, err = run(["balance", src, out, "--label", "label", "--exclude", "user_id", *FAST_ARGS], capsys)
    assert code == 0, err
    got = pq.read_table(out)
    synth = got.filter(got.column("is_synthetic"))
    assert synth.num_rows > 0 and synth.column("user_id").null_count == synth.num_rows


def test_console_script_exit_code(tmp_path):
    """The installed entry point (a real process) exits 2 with one line on stderr."""
    proc = subprocess.run([sys.executable, "-m", "vae_augment.cli", "balance", str(tmp_path / "x.parquet"),
                           str(tmp_path / "o.parquet"), "--label", "y"],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"vae-augment: error: input file '{tmp_path / 'x.parquet'}' does not exist"]
    assert proc.stdout == ""


@pytest.mark.parametrize("module", ["vae_augment", "vae_augment.cli"])
def test_python_m_has_every_command(module):
    """`python -m vae_augment.cli` listed only fit, sample, balance and info: run as
    __main__, the module's plugins registered score, encode and evaluate elsewhere."""
    proc = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True,
                          text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    listed = {line.split()[0] for line in proc.stdout.split("COMMAND", 2)[2].splitlines()
              if line.startswith("    ") and not line.startswith("     ")}
    assert listed == {"fit", "sample", "balance", "info", "encode", "score", "evaluate"}, (
        proc.stdout)


@pytest.mark.parametrize("form", ["dir", "glob"])
def test_directory_and_glob_inputs(tmp_path, mixed_table, mixed_artifact, capsys, form):
    parts = tmp_path / "parts"
    parts.mkdir()
    pq.write_table(mixed_table.slice(0, 120), parts / "a.parquet")
    pq.write_table(mixed_table.slice(120), parts / "b.parquet")
    src = parts if form == "dir" else parts / "*.parquet"
    out = tmp_path / "o.parquet"
    code, _, err = run(["balance", src, out, "--label", "label", "--model-dir", mixed_artifact, "--quiet"],
                       capsys)
    assert code == 0, err
    got = pq.read_table(out)
    real = got.filter(pa.compute.invert(got.column("is_synthetic"))).drop_columns(["is_synthetic"])
    assert real.equals(mixed_table)


def test_balance_saves_new_model_dir_then_reuses_it(tmp_path, mixed_parquet, trained_balance,
                                                    capsys):
    model_dir, out1 = trained_balance["model_dir"], trained_balance["out"]  # trained, saved
    out2 = tmp_path / "2.parquet"
    assert (model_dir / "model.keras").exists() and (model_dir / "manifest.json").exists()
    assert run(["balance", mixed_parquet, out2, "--label", "label", "--model-dir", model_dir, "--quiet"],
               capsys)[0] == 0
    stamp = trained_balance["stamp"]
    assert (model_dir / "model.keras").stat().st_mtime_ns == stamp  # reused, not retrained
    assert out1.read_bytes() == out2.read_bytes()


def test_fit_never_deletes_files_it_did_not_write(tmp_path, mixed_parquet, mixed_artifact, capsys,
                                                  monkeypatch):
    import shutil

    from vae_augment import api

    mine = tmp_path / "runs"  # e.g. the parent meant, not a new model directory
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    (mine / "other_model").mkdir()
    trained = []
    real_train = api.train_model
    monkeypatch.setattr(api, "train_model", lambda *a, **k: trained.append(1) or real_train(*a, **k))
    code, _, err = run(["fit", mixed_parquet, "--label", "label", "--model-dir", mine, *FAST_ARGS],
                       capsys)
    assert code == 2 and not trained  # refused before any training
    assert "not part of a vae-augment artifact (notes.txt, other_model)" in err
    assert (mine / "notes.txt").read_text() == "keep me" and (mine / "other_model").is_dir()
    assert not (mine / "model.keras").exists()
    # an artifact directory (with its checkpoints) is replaced by a new fit, as before
    art_dir = tmp_path / "model"
    shutil.copytree(mixed_artifact, art_dir)  # a fit's artifact (trained once per session)
    (art_dir / "checkpoints").mkdir()
    before = (art_dir / "manifest.json").read_text()
    assert run(["fit", mixed_parquet, "--label", "label", "--model-dir", art_dir, "--seed", "5",
                *FAST_ARGS], capsys)[0] == 0
    assert (art_dir / "manifest.json").read_text() != before and len(trained) == 1
    # a link to an artifact directory, and logs or checkpoints in the directory itself:
    # refused before training (saving would replace the link, or delete the logs)
    (tmp_path / "link").symlink_to(art_dir)
    code, _, err = run(["fit", mixed_parquet, "--label", "label", "--model-dir",
                        tmp_path / "link", *FAST_ARGS], capsys)
    assert code == 2 and "is a symbolic link" in err
    code, _, err = run(["fit", mixed_parquet, "--label", "label", "--model-dir", art_dir,
                        "--tensorboard", art_dir, *FAST_ARGS], capsys)
    assert code == 2 and "`--tensorboard` must not be the model directory itself" in err
    assert len(trained) == 1 and (art_dir / "manifest.json").exists()


def test_a_failed_save_puts_the_checkpoints_back(tmp_path, mixed_artifact, monkeypatch):
    import shutil

    from vae_augment import artifact as A

    d = tmp_path / "m"
    shutil.copytree(mixed_artifact, d)
    (d / "checkpoints").mkdir()
    (d / "checkpoints" / "ckpt-1").write_text("state")
    art = A.load_artifact(str(d))

    def broken_rmtree(path, *a, **k):
        raise OSError("disk trouble")

    monkeypatch.setattr(A.shutil, "rmtree", broken_rmtree)
    with pytest.raises(OSError, match="disk trouble"):
        A.save_artifact(str(d), art.model, art.encoding, preserve=("checkpoints",))
    assert (d / "checkpoints" / "ckpt-1").read_text() == "state"  # back where it was


def test_balance_takes_a_model_in_memory(tmp_path, mixed_parquet, mixed_artifact, monkeypatch):
    from vae_augment import api
    from vae_augment.artifact import load_artifact

    art = load_artifact(str(mixed_artifact))
    loads = []
    monkeypatch.setattr(api, "load_artifact", lambda *a, **k: loads.append(a) or art)
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    got = api.balance(str(mixed_parquet), str(a), label="label", model=art, seed=2)
    assert got["artifact"] is art and not loads  # used as given, never reloaded
    monkeypatch.undo()  # the directory path loads the artifact from disk
    api.balance(str(mixed_parquet), str(b), label="label", model_dir=str(mixed_artifact), seed=2)
    assert pq.read_table(a).equals(pq.read_table(b))  # the same rows as from its directory
    with pytest.raises(api.VAEAugmentError, match="not both"):
        api.balance(str(mixed_parquet), None, label="label", model=art,
                    model_dir=str(mixed_artifact))
    with pytest.raises(api.VAEAugmentError, match="must be an Artifact"):
        api.balance(str(mixed_parquet), None, label="label", model=str(mixed_artifact))
    with pytest.raises(api.SchemaError, match="the given model was trained with label 'label'"):
        api.balance(str(mixed_parquet), None, label="s", model=art)
    # training settings cannot apply to a model that is only sampled: said, not silent
    with pytest.warns(UserWarning, match=r"`fit_kwargs` \(epochs, latent_dim\) ignored"):
        api.balance(str(mixed_parquet), str(tmp_path / "c.parquet"), label="label", model=art,
                    seed=2, fit_kwargs={"latent_dim": 8, "epochs": 3})
    assert pq.read_table(tmp_path / "c.parquet").equals(pq.read_table(a))


def test_cli_balance_with_an_existing_model_does_not_warn(tmp_path, mixed_parquet,
                                                          mixed_artifact, capsys):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        code, _, err = run(["balance", mixed_parquet, tmp_path / "o.parquet", "--label", "label",
                            "--model-dir", mixed_artifact, "--seed", "2"], capsys)
    assert code == 0 and "warning" not in err


def test_cli_balance_names_training_flags_an_existing_model_ignores(tmp_path, mixed_parquet,
                                                                    mixed_artifact, capsys):
    base = ["balance", mixed_parquet, "--label", "label", "--model-dir", mixed_artifact,
            "--seed", "2"]
    code, _, err = run([*base[:2], tmp_path / "a.parquet", *base[2:]], capsys)
    assert code == 0 and "warning" not in err
    code, _, err = run([*base[:2], tmp_path / "b.parquet", *base[2:], "--epochs", "5",
                        "--no-jit", "--guided", "--categorical", "n"], capsys)
    assert code == 0
    warning = [line for line in err.splitlines() if "warning" in line]
    assert len(warning) == 1, err
    assert "ignores --epochs, --guided, --jit/--no-jit, --categorical;" in warning[0]
    assert str(mixed_artifact) in warning[0]
    # the flags change nothing: the model is sampled as it was trained
    assert pq.read_table(tmp_path / "a.parquet").equals(pq.read_table(tmp_path / "b.parquet"))
    # a flag given at its default value changes nothing either, and is not named
    code, _, err = run([*base[:2], tmp_path / "c.parquet", *base[2:], "--epochs", "300",
                        "--constraint", "auto"], capsys)
    assert code == 0 and "warning" not in err


def test_fit_image_likelihood_option(tmp_path, mixed_parquet, capsys):
    model_dir = tmp_path / "bb"
    code, _, _ = run(["fit", mixed_parquet, "--label", "label", "--model-dir", model_dir,
                      "--image-likelihood", "beta_binomial", *FAST_ARGS], capsys)
    assert code == 0
    config = json.loads((model_dir / "config.json").read_text())
    assert config["train_config"]["image_likelihood"] == "beta_binomial"
    import keras
    import pyarrow
    import tensorflow  # the versions that wrote it, for bug reports
    assert config["library_versions"]["tensorflow"] == tensorflow.__version__
    assert config["library_versions"]["keras"] == keras.__version__
    assert config["library_versions"]["pyarrow"] == pyarrow.__version__
    enc = json.loads((model_dir / "encoding.json").read_text())
    assert [f["likelihood"] for f in enc["features"] if f["name"] == "img"] == ["beta_binomial"]
    code, _, err = run(["fit", mixed_parquet, "--label", "label", "--model-dir", tmp_path / "x",
                        "--image-likelihood", "beta", *FAST_ARGS], capsys)
    assert code == 2 and "--image-likelihood" in err


def test_cli_balance_json_summary_matches_the_output(tmp_path, mixed_parquet, mixed_artifact,
                                                     capsys):
    out = tmp_path / "o.parquet"
    code, stdout, _ = run(["balance", mixed_parquet, out, "--label", "label", "--model-dir",
                           mixed_artifact, "--seed", "2", "--json",
                           "--sampling-strategy", '{"b": 120}'], capsys)
    assert code == 0
    summary = json.loads(stdout)  # the whole of stdout is one JSON object
    t = pq.read_table(out)
    real = pq.read_table(mixed_parquet)
    assert summary["rows_written"] == t.num_rows
    assert summary["output"] == str(out) and summary["model_dir"] == str(mixed_artifact)
    counts = {k: v for k, v in zip(*np.unique(t.column("label").to_numpy(zero_copy_only=False),
                                              return_counts=True))}
    assert summary["counts_after"] == {k: int(v) for k, v in counts.items()}
    before = dict(zip(*np.unique(real.column("label").to_numpy(zero_copy_only=False),
                                 return_counts=True)))
    assert summary["counts_before"] == {k: int(v) for k, v in before.items()}
    assert summary["generated"] == {"a": 0, "b": 120 - int(before["b"]), "c": 0}
    assert summary["null_label_rows"] == 0


def test_balance_with_encoding_statistics_counts_the_input(tmp_path, mixed_table,
                                                           mixed_artifact, capsys):
    """`balance --encoding` (statistics of a larger table, as pipelines/fit_stats.py writes)
    balanced by the encoding's class counts: the output was not balanced, and the summary's
    null-label rows went negative."""
    part = tmp_path / "part.parquet"
    pq.write_table(mixed_table.slice(0, 200), part)
    out = tmp_path / "o.parquet"
    code, stdout, err = run(["balance", part, out, "--label", "label", "--model-dir",
                             tmp_path / "m", "--encoding", mixed_artifact / "encoding.json",
                             "--json", *FAST_ARGS], capsys)
    assert code == 0, err
    summary = json.loads(stdout)
    labels = mixed_table.slice(0, 200).column("label").to_pylist()
    before = {c: labels.count(c) for c in sorted(set(labels))}
    assert summary["counts_before"] == before and summary["null_label_rows"] == 0
    written = pq.read_table(out).column("label").to_pylist()
    assert {c: written.count(c) for c in before} == {c: max(before.values()) for c in before}


def test_an_interrupted_fits_checkpoints_are_not_trained_over(tmp_path, mixed_parquet, capsys):
    """`balance --model-dir D` (or `fit`) where D holds only an interrupted fit's checkpoints
    trained afresh and deleted them; it now says to add --resume, which continues."""
    import os

    model_dir = tmp_path / "m"
    code, _, err = run(["fit", mixed_parquet, "--label", "label", "--model-dir", model_dir,
                        "--checkpoint-every", "3", *FAST_ARGS], capsys)
    assert code == 0, err
    for name in os.listdir(model_dir):  # as Ctrl-C leaves it: checkpoints, no model
        if name != "checkpoints":
            os.remove(model_dir / name)
    kept = sorted(os.listdir(model_dir / "checkpoints"))
    out = tmp_path / "o.parquet"
    for inputs in ([mixed_parquet], [mixed_parquet, out]):  # fit, balance
        command = "fit" if len(inputs) == 1 else "balance"
        code, _, err = run([command, *inputs, "--label", "label", "--model-dir", model_dir,
                            *FAST_ARGS], capsys)
        assert code == 2 and "holds an interrupted fit's checkpoint" in err, err
        assert "add --resume to continue from it" in err
        assert sorted(os.listdir(model_dir / "checkpoints")) == kept and not out.exists()
    code, _, err = run(["balance", mixed_parquet, out, "--label", "label", "--model-dir",
                        model_dir, "--resume", *FAST_ARGS], capsys)
    assert code == 0, err
    assert out.exists() and (model_dir / "model.keras").exists()


def test_ctrl_c_in_training_names_the_checkpoint_to_resume_from(tmp_path, mixed_parquet,
                                                                monkeypatch, capsys):
    import vae_augment.api

    ckpt = tmp_path / "ckpt"

    def interrupted_fit(*args, **kw):  # training saved one checkpoint, then Ctrl-C
        if kw.get("checkpoint_every"):
            (ckpt / "ckpt-000000040").mkdir(parents=True)
            (ckpt / "ckpt-000000040" / "state.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(vae_augment.api, "fit", interrupted_fit)
    base = ["fit", mixed_parquet, "--label", "label", "--model-dir", tmp_path / "m"]
    code, _, err = run([*base, "--checkpoint-dir", ckpt, "--checkpoint-every", "40"], capsys)
    assert code == 130
    assert err.strip() == ("vae-augment: interrupted; the same command with --resume continues "
                           f"from the newest checkpoint ({ckpt / 'ckpt-000000040'})")
    code, _, err = run(base, capsys)  # no checkpoints: nothing to resume from
    assert code == 130 and err.strip() == "vae-augment: interrupted"
    assert not (tmp_path / "m").exists()
    ckpt = tmp_path / "m" / "checkpoints"  # the default place, with --checkpoint-every alone
    code, _, err = run([*base, "--checkpoint-every", "40"], capsys)
    assert code == 130 and f"({ckpt / 'ckpt-000000040'})" in err


def test_the_artifact_keeps_every_epochs_figures(tmp_path, mixed_artifact, capsys):
    """`Artifact.history`: one value per epoch run of the loss, its terms and their val_*
    twins, the best-epoch metrics equal to that epoch's entries; `info` shows it in one line
    and `info --history` prints it as JSON; an artifact without it says so in one line."""
    from vae_augment.artifact import load_artifact

    art = load_artifact(str(mixed_artifact))
    metrics, history = art.config["metrics"], art.history
    assert {"loss", "neg_elbo", "recon", "kl", "val_loss", "val_neg_elbo", "val_recon",
            "val_kl"} <= set(history)
    assert all(len(v) == metrics["epochs_run"] for v in history.values())
    for key in ("loss", "val_neg_elbo", "kl"):
        assert history[key][metrics["best_epoch"] - 1] == pytest.approx(metrics[key])
    history["loss"].append(0.0)  # a copy: editing it left the loaded config changed
    assert len(art.history["loss"]) == metrics["epochs_run"]
    history["loss"].pop()
    code, out, _ = run(["info", "--model-dir", mixed_artifact], capsys)
    shown = json.loads(out)["metrics"]["history"]
    assert code == 0 and shown["epochs"] == metrics["epochs_run"]
    assert shown["series"] == sorted(history)
    code, out, _ = run(["info", "--model-dir", mixed_artifact, "--history"], capsys)
    assert code == 0 and len(out.strip().splitlines()) == 1
    assert json.loads(out) == {"best_epoch": metrics["best_epoch"], "history": history}
    # an artifact saved before the history was kept
    import shutil

    old = tmp_path / "old"
    shutil.copytree(mixed_artifact, old)
    config = json.loads((old / "config.json").read_text())
    del config["metrics"]["history"]
    (old / "config.json").write_text(json.dumps(config))
    import hashlib

    manifest = json.loads((old / "manifest.json").read_text())
    manifest["config.json"] = hashlib.sha256((old / "config.json").read_bytes()).hexdigest()
    (old / "manifest.json").write_text(json.dumps(manifest))
    code, out, err = run(["info", "--model-dir", old, "--history"], capsys)
    assert code == 2 and not out and "has no per-epoch history" in err
    assert len(err.strip().splitlines()) == 1


def test_the_release_has_one_source(capsys):
    """setup.py read its own "0.1.0" beside `vae_augment.__version__`, which checkpoints and
    artifacts record and `--version` prints: a release bumped in one place only would have
    installed under one number and recorded another."""
    import importlib.metadata

    import vae_augment
    from vae_augment.cli import main

    with pytest.raises(SystemExit) as exited:  # argparse's version action exits
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"vae-augment {vae_augment.__version__}"
    built = subprocess.run([sys.executable, "setup.py", "--version"], cwd=REPO,
                           capture_output=True, text=True, check=True)
    assert built.stdout.strip().splitlines()[-1] == vae_augment.__version__
    # the installed metadata too (`make` reinstalls when vae_augment/__init__.py changes)
    assert importlib.metadata.version("vae-augment") == vae_augment.__version__
