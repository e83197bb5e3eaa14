"""Reliability: every bad input gets one clear line and exit code 2, nothing is half-written.

Each bad-input case runs through the CLI in-process (`vae_augment.cli.main`) and checks: exit
code 2, exactly one stderr line ``vae-augment: error: ...`` naming the column or argument, no
output file and no temporary file left next to it. A couple of cases also run as real
processes. Then: documented behaviours (a one-row class, all-null / constant / excluded nested
columns), atomic replacement, path safety, same seed -> same bytes (sample, reloaded
artifact, privacy filter), crafted artifacts refused by Keras safe_mode, and the
`--privacy-min-distance` filter.
"""

from __future__ import annotations

import base64
import hashlib
import json
import marshal
import os
import re
import shutil
import subprocess
import sys
import zipfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from .conftest import FAST_ARGS, REPO, make_mixed_table
from .conftest import run_cli as run


def leftovers(directory) -> list[str]:
    """Temporary files or directories a writer could have left behind (hidden or *.tmp)."""
    found = []
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            if name.startswith(".") or name.endswith((".tmp", ".old")):
                found.append(os.path.join(root, name))
    return found


def assert_clean_failure(code, stdout, err, pattern, out_path, workdir):
    assert code == 2, (code, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("vae-augment: error: "), lines[0]
    assert re.search(pattern, lines[0]), (pattern, lines[0])
    assert stdout == ""
    assert not os.path.exists(out_path)
    assert leftovers(workdir) == []


def write(table: pa.Table, path) -> str:
    pq.write_table(table, path)
    return str(path)


def with_column(table: pa.Table, name: str, array: pa.Array) -> pa.Table:
    if name in table.column_names:
        return table.set_column(table.schema.get_field_index(name), name, array)
    return table.append_column(name, array)


def base_table(n: int = 120) -> pa.Table:
    return make_mixed_table(n, with_tensor=False)


# ---------------------------------------------------------------------- bad inputs: balance
def _finite_f32(n, bad):
    values = np.random.default_rng(1).random(n)
    values[7] = bad
    return pa.array(values)


def _balance_case(tmp_path, name):
    """(argv after the output path, expected message regex) for one bad input."""
    n = 120
    src = tmp_path / "in.parquet"
    t = base_table(n)
    label = ["--label", "label"]
    if name == "missing_file":
        return [tmp_path / "nope.parquet", *label], r"input file '.*nope\.parquet' does not exist"
    if name == "missing_dir_glob":
        return [tmp_path / "nothing" / "*.parquet", *label], r"input glob '.*\*\.parquet' matches no files"
    if name == "corrupt":
        src.write_bytes(b"PAR1" + b"\x00garbage" * 20 + b"PAR1")
        return [src, *label], r"input '.*in\.parquet' is not a readable Parquet file"
    if name == "truncated":
        write(t, src)
        src.write_bytes(src.read_bytes()[: len(src.read_bytes()) // 2])
        return [src, *label], r"input '.*in\.parquet' is not a readable Parquet file"
    if name == "empty_table":
        write(t.slice(0, 0), src)
        return [src, *label], r"the input has no rows"
    if name == "label_missing":
        write(t, src)
        return [src, "--label", "target"], r"`--label` column 'target' not found\. Columns: \['f'"
    if name == "label_all_null":
        write(with_column(t, "label", pa.nulls(n, pa.string())), src)
        return [src, *label], r"`--label` column 'label' is null in every row"
    if name == "label_single_class":
        write(with_column(t, "label", pa.array(["a"] * n)), src)
        return [src, *label], r"`--label` column 'label' has a single class \('a'\); need at least 2"
    if name == "label_float_type":
        write(with_column(t, "label", pa.array(np.arange(n) * 0.5)), src)
        return [src, *label], r"`--label` column 'label' has type double; expected string"
    if name in ("nan", "pos_inf", "neg_inf"):
        bad = {"nan": np.nan, "pos_inf": np.inf, "neg_inf": -np.inf}[name]
        write(with_column(t, "f32", _finite_f32(n, bad)), src)
        what = "NaN" if name == "nan" else "±inf"
        return [src, *label], rf"column 'f32' contains {what}; .*--exclude f32"
    if name == "struct":
        st = pa.StructArray.from_arrays([pa.array(np.arange(n)), pa.array(np.ones(n))], ["x", "y"])
        write(t.append_column("addr", st), src)
        return [src, *label], r"column 'addr' has unsupported type struct<.*exclude it with --exclude addr"
    if name == "map":
        mp = pa.array([[("k", i)] for i in range(n)], pa.map_(pa.string(), pa.int64()))
        write(t.append_column("attrs", mp), src)
        return [src, *label], r"column 'attrs' has unsupported type map<.*--exclude attrs"
    if name == "nested_list":
        nl = pa.array([[[i], [1, 2]] for i in range(n)], pa.list_(pa.list_(pa.int64())))
        write(t.append_column("seqs", nl), src)
        return [src, *label], r"column 'seqs' has unsupported type list<.*--exclude seqs"
    if name == "dictionary_of_bytes":  # trained, then failed to save its categories
        db = pa.array([b"x", b"y"] * (n // 2) + [b"x"] * (n % 2)).dictionary_encode()
        write(t.append_column("det", db), src)
        return [src, *label], r"column 'det' has unsupported type dictionary<values=binary.*--exclude det"
    if name == "string_tensor":
        fl = pa.FixedSizeListArray.from_arrays(pa.array(["a", "b"] * n), 2)
        write(t.append_column("pair", fl), src)
        return [src, *label], r"column 'pair' is a fixed-size list of string; .*--exclude pair"
    if name == "cardinality":
        write(t, src)
        return [src, *label, "--max-categories", "2"], (
            r"column 's' has more than 2 distinct values.*--exclude s or raise --max-categories")
    if name == "mismatched_columns":
        d = tmp_path / "parts"
        d.mkdir()
        write(t, d / "a.parquet")
        write(t.drop_columns(["f"]), d / "b.parquet")
        return [d, *label], r"input '.*b\.parquet' has a different schema from '.*a\.parquet': column 'f' is missing$"
    if name == "mismatched_types":
        d = tmp_path / "parts"
        d.mkdir()
        write(t, d / "a.parquet")
        write(with_column(t, "f", t.column("f").cast(pa.float32())), d / "b.parquet")
        return [d, *label], r"column 'f' has type float, expected double"
    if name == "exclude_unknown":
        write(t, src)
        return [src, *label, "--exclude", "nope"], r"`--exclude` names unknown columns \['nope'\]"
    if name == "exclude_label":
        write(t, src)
        return [src, *label, "--exclude", "label"], r"the label column 'label' cannot be excluded"
    if name == "has_is_synthetic":
        write(t.append_column("is_synthetic", pa.array([False] * n)), src)
        return [src, *label], r"input already has a column named 'is_synthetic'"
    if name == "only_label":
        write(t.select(["label"]), src)
        return [src, *label], r"no column left to model besides the label"
    if name == "strategy_negative":
        write(t, src)
        return [src, *label, "--sampling-strategy", '{"b": -5}'], (
            r"`--sampling-strategy` target for class 'b' must be a non-negative integer, got -5")
    if name == "strategy_fraction":
        write(t, src)
        return [src, *label, "--sampling-strategy", '{"b": 12.5}'], (
            r"`--sampling-strategy` target for class 'b' must be a non-negative integer, got 12\.5")
    if name == "strategy_string_count":
        write(t, src)
        return [src, *label, "--sampling-strategy", '{"b": "many"}'], (
            r"`--sampling-strategy` target for class 'b' must be a non-negative integer, got 'many'")
    if name == "strategy_below_count":
        write(t, src)
        return [src, *label, "--sampling-strategy", '{"b": 1}'], (
            r"`--sampling-strategy`: .*greater or equal to the original number")
    if name == "strategy_unknown_class":
        write(t, src)
        return [src, *label, "--sampling-strategy", '{"zzz": 10}'], (
            r"`--sampling-strategy` names classes \['zzz'\] not in the data")
    if name == "strategy_bad_json":
        write(t, src)
        return [src, *label, "--sampling-strategy", '{"b": '], r"`--sampling-strategy` .* is not valid JSON"
    if name == "strategy_bad_name":
        write(t, src)
        return [src, *label, "--sampling-strategy", "most"], r"`--sampling-strategy` must be one of"
    if name == "privacy_negative":
        write(t, src)
        return [src, *label, "--privacy-min-distance", "-0.5"], (
            r"`--privacy-min-distance` must be a finite number >= 0, got -0\.5")
    if name == "privacy_not_a_number":
        write(t, src)
        return [src, *label, "--privacy-min-distance", "far"], (
            r"argument --privacy-min-distance: invalid float value: 'far'")
    if name == "epochs_not_int":
        write(t, src)
        return [src, *label, "--epochs", "2.5"], r"argument --epochs: invalid int value: '2\.5'"
    if name == "output_dir_missing":
        write(t, src)
        return [src, *label, "--output-is", tmp_path / "no_dir" / "out.parquet"], (
            r"output directory '.*no_dir' does not exist")
    if name == "label_flag_missing":
        write(t, src)
        return [src], r"the following arguments are required: --label"
    raise AssertionError(name)


BALANCE_CASES = [
    "missing_file", "missing_dir_glob", "corrupt", "truncated", "empty_table", "label_missing",
    "label_all_null", "label_single_class", "label_float_type", "nan", "pos_inf", "neg_inf",
    "struct", "map", "nested_list", "dictionary_of_bytes", "string_tensor", "cardinality",
    "mismatched_columns", "mismatched_types", "exclude_unknown", "exclude_label", "has_is_synthetic", "only_label",
    "strategy_negative", "strategy_fraction", "strategy_string_count", "strategy_below_count",
    "strategy_unknown_class", "strategy_bad_json", "strategy_bad_name", "privacy_negative",
    "privacy_not_a_number", "epochs_not_int", "label_flag_missing", "output_dir_missing",
]


@pytest.mark.parametrize("case", BALANCE_CASES)
def test_balance_bad_input(tmp_path, capsys, case):
    args, pattern = _balance_case(tmp_path, case)
    out = tmp_path / "out.parquet"
    if "--output-is" in args:
        i = args.index("--output-is")
        out = args[i + 1]
        args = args[:i] + args[i + 2:]
    code, stdout, err = run(["balance", args[0], out, *args[1:], *FAST_ARGS], capsys)
    assert_clean_failure(code, stdout, err, pattern, out, tmp_path)


def test_fit_bad_input_leaves_no_model_dir(tmp_path, capsys):
    src = write(with_column(base_table(), "f32", _finite_f32(120, np.inf)), tmp_path / "in.parquet")
    model_dir = tmp_path / "model"
    code, stdout, err = run(["fit", src, "--label", "label", "--model-dir", model_dir, *FAST_ARGS],
                            capsys)
    assert_clean_failure(code, stdout, err, r"column 'f32' contains ±inf", model_dir, tmp_path)


# ---------------------------------------------------------------------- bad inputs: sample
@pytest.mark.parametrize("argv,pattern", [
    (["--n", "-1"], r"`--n` must be a non-negative integer, got -1"),
    (["--n", "1.5"], r"argument --n: invalid int value: '1\.5'"),
    (["--n", "ten"], r"argument --n: invalid int value: 'ten'"),
    ([], r"the following arguments are required: --n"),
    (["--n", "5", "--class", "zzz"], r"class 'zzz' is not one of the model's classes \['a', 'b', 'c'\]"),
    (["--n", "5", "--privacy-min-distance", "0.1"],
     r"`--privacy-min-distance` needs `--reference`"),
    (["--n", "5", "--privacy-min-distance", "nan", "--reference", "REF"],
     r"`--privacy-min-distance` must be a finite number >= 0, got nan"),
    (["--n", "5", "--output-shards", "0"], r"`--output-shards` must be a positive integer, got 0"),
])
def test_sample_bad_arguments(tmp_path, capsys, mixed_artifact, mixed_parquet, argv, pattern):
    out = tmp_path / "s.parquet"
    argv = [mixed_parquet if a == "REF" else a for a in argv]
    code, stdout, err = run(["sample", out, "--model-dir", mixed_artifact, *argv], capsys)
    assert_clean_failure(code, stdout, err, pattern, out, tmp_path)


def test_sample_counts_api_rejects_non_integers(mixed_artifact):
    from vae_augment.api import sample
    from vae_augment.errors import VAEAugmentError

    for bad in (-3, 2.5, "7", True):
        with pytest.raises(VAEAugmentError, match=r"requested count for class 'b' must be a non-negative integer"):
            sample(str(mixed_artifact), {"b": bad}, seed=0)


# ---------------------------------------------------------------------- bad artifacts
def _copy_artifact(src, dst):
    shutil.copytree(src, dst)
    return dst


def _rewrite_manifest(model_dir):
    manifest = {}
    for name in ("model.keras", "encoding.json", "config.json"):
        manifest[name] = hashlib.sha256((model_dir / name).read_bytes()).hexdigest()
    (model_dir / "manifest.json").write_text(json.dumps(manifest))


def _craft_keras(model_dir, config: dict):
    """Replaces model.keras by a zip with this config.json (weights kept), manifest recomputed."""
    path = model_dir / "model.keras"
    with zipfile.ZipFile(path) as z:
        weights = z.read("model.weights.h5")
        metadata = z.read("metadata.json")
    path.unlink()
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", metadata)
        z.writestr("config.json", json.dumps(config))
        z.writestr("model.weights.h5", weights)
    _rewrite_manifest(model_dir)


MARKER = "/tmp/vae_augment_lambda_ran"


def _lambda_config():
    code = compile(f"lambda x: open({MARKER!r}, 'w') and x", "<crafted>", "eval")
    blob = base64.b64encode(marshal.dumps(code.co_consts[0])).decode()
    dtype = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
             "registered_name": None}
    return {
        "module": "keras", "class_name": "Sequential", "registered_name": None,
        "config": {"name": "crafted", "trainable": True, "dtype": dtype, "layers": [
            {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
             "config": {"batch_shape": [None, 2], "dtype": "float32", "sparse": False,
                        "ragged": False, "name": "input_layer", "optional": False}},
            {"module": "keras.layers", "class_name": "Lambda", "registered_name": None,
             "config": {"name": "evil", "trainable": True, "dtype": dtype, "arguments": {},
                        "function": {"class_name": "__lambda__",
                                     "config": {"code": blob, "defaults": None, "closure": None}}},
             "build_config": {"input_shape": [None, 2]}},
        ], "build_input_shape": [None, 2]},
        "build_config": {"input_shape": [None, 2]}, "compile_config": {},
    }


def _unknown_class_config(original: dict):
    crafted = json.loads(json.dumps(original))
    crafted.update({"module": "evil_plugin.models", "class_name": "Backdoor",
                    "registered_name": "evil_plugin>Backdoor"})
    return crafted


def _artifact_case(tmp_path, mixed_artifact, name):
    model_dir = _copy_artifact(mixed_artifact, tmp_path / "model")
    if name == "newer_format":
        cfg = json.loads((model_dir / "config.json").read_text())
        cfg["format_version"] = 99
        (model_dir / "config.json").write_text(json.dumps(cfg))
        from vae_augment.artifact import FORMAT_VERSION

        return model_dir, rf"format version 99; this vae-augment reads versions up to {FORMAT_VERSION} "
    if name == "emptied_config":  # was "format version None ... (upgrade vae-augment)"
        (model_dir / "config.json").write_text("{}")
        return model_dir, r"artifact file '.*config\.json' does not match its checksum"
    if name == "no_format_version":  # manifest rewritten to match: not an upgrade either
        cfg = json.loads((model_dir / "config.json").read_text())
        cfg["format_version"] = "2"
        (model_dir / "config.json").write_text(json.dumps(cfg))
        _rewrite_manifest(model_dir)
        return model_dir, r"artifact file '.*config\.json' has no valid format_version \('2'\)"
    if name == "tampered_encoding":
        enc = json.loads((model_dir / "encoding.json").read_text())
        enc["class_counts"][0] += 1
        (model_dir / "encoding.json").write_text(json.dumps(enc))
        return model_dir, r"artifact file '.*encoding\.json' does not match its checksum"
    if name == "tampered_weights":
        data = bytearray((model_dir / "model.keras").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (model_dir / "model.keras").write_bytes(bytes(data))
        return model_dir, r"artifact file '.*model\.keras' does not match its checksum"
    if name == "missing_manifest":
        (model_dir / "manifest.json").unlink()
        return model_dir, r"model directory '.*' has no manifest\.json; is it an artifact\?"
    if name == "lambda_layer":
        _craft_keras(model_dir, _lambda_config())
        return model_dir, r"model file in '.*' was refused: .*(lambda|Lambda|safe_mode)"
    if name == "unknown_class":
        with zipfile.ZipFile(model_dir / "model.keras") as z:
            original = json.loads(z.read("config.json"))
        _craft_keras(model_dir, _unknown_class_config(original))
        return model_dir, r"model file in '.*' was refused: .*Backdoor"
    if name == "truncated_model":  # manifest rewritten to match: only the zip shows it
        data = (model_dir / "model.keras").read_bytes()
        (model_dir / "model.keras").write_bytes(data[: len(data) // 2])
        _rewrite_manifest(model_dir)
        return model_dir, r"model file '.*model\.keras' is not a Keras archive \(truncated"
    if name == "garbage_config":
        (model_dir / "config.json").write_text("{not json")
        _rewrite_manifest(model_dir)
        return model_dir, r"artifact file '.*config\.json' is not valid JSON"
    if name == "list_manifest":
        (model_dir / "manifest.json").write_text("[]")
        return model_dir, r"artifact file '.*manifest\.json' holds a JSON list, not an object"
    if name == "not_a_directory":
        return tmp_path / "no_such_model", r"`--model-dir` '.*no_such_model' is not a directory"
    raise AssertionError(name)


ARTIFACT_CASES = ["newer_format", "emptied_config", "no_format_version", "tampered_encoding", "tampered_weights", "missing_manifest",
                  "lambda_layer", "unknown_class", "truncated_model", "garbage_config",
                  "list_manifest", "not_a_directory"]


@pytest.mark.parametrize("case", ["truncated_model", "garbage_config", "emptied_config",
                                  "no_format_version"])
def test_bad_artifact_refused_by_info(tmp_path, capsys, mixed_artifact, case):
    """`info` reads no weights, but still tells a truncated or garbled artifact."""
    model_dir, pattern = _artifact_case(tmp_path, mixed_artifact, case)
    code, stdout, err = run(["info", "--model-dir", model_dir], capsys)
    assert code == 2 and not stdout
    assert re.search(pattern, err) and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("case", ARTIFACT_CASES)
def test_bad_artifact_refused_by_sample(tmp_path, capsys, mixed_artifact, case):
    model_dir, pattern = _artifact_case(tmp_path, mixed_artifact, case)
    if os.path.exists(MARKER):
        os.remove(MARKER)
    out = tmp_path / "s.parquet"
    code, stdout, err = run(["sample", out, "--model-dir", model_dir, "--n", "10"], capsys)
    assert_clean_failure(code, stdout, err, pattern, out, tmp_path)
    assert not os.path.exists(MARKER)  # the crafted lambda never ran


def test_lambda_artifact_refused_with_artifact_error(tmp_path, mixed_artifact):
    """The crafted file passes the checksum: it is Keras safe_mode that refuses it."""
    from vae_augment.artifact import load_artifact, read_artifact_meta
    from vae_augment.errors import ArtifactError

    model_dir, _ = _artifact_case(tmp_path, mixed_artifact, "lambda_layer")
    read_artifact_meta(str(model_dir))  # manifest and version are fine
    with pytest.raises(ArtifactError, match="safe_mode") as info:
        load_artifact(str(model_dir))
    assert "lambda" in str(info.value.__cause__).lower()


@pytest.mark.parametrize("case", ["newer_format", "tampered_encoding", "lambda_layer"])
def test_bad_artifact_refused_by_balance(tmp_path, capsys, mixed_artifact, mixed_parquet, case):
    model_dir, pattern = _artifact_case(tmp_path, mixed_artifact, case)
    out = tmp_path / "b.parquet"
    code, stdout, err = run(["balance", mixed_parquet, out, "--label", "label", "--model-dir",
                             model_dir, "--quiet"], capsys)
    assert_clean_failure(code, stdout, err, pattern, out, tmp_path)


def test_artifact_from_other_schema(tmp_path, capsys, mixed_artifact):
    """The model was trained with an image column; this input has none."""
    src = write(make_mixed_table(300, with_tensor=False), tmp_path / "in.parquet")
    out = tmp_path / "b.parquet"
    code, stdout, err = run(["balance", src, out, "--label", "label", "--model-dir", mixed_artifact,
                             "--quiet"], capsys)
    assert_clean_failure(code, stdout, err,
                         r"input '.*' does not match the schema artifact .* was trained on: column",
                         out, tmp_path)


def test_artifact_other_column_type(tmp_path, capsys, mixed_artifact, mixed_table):
    """Floats for the model's integers: refused (an int32 for its int64 is taken since
    session 48, tests/test_input_layouts.py)."""
    t = with_column(mixed_table, "i", mixed_table.column("i").cast(pa.float64()))
    src = write(t, tmp_path / "in.parquet")
    out = tmp_path / "b.parquet"
    code, stdout, err = run(["balance", src, out, "--label", "label", "--model-dir", mixed_artifact,
                             "--quiet"], capsys)
    assert_clean_failure(code, stdout, err, r"column 'i' has type double, expected int64", out,
                         tmp_path)


def test_artifact_other_label(tmp_path, capsys, mixed_artifact, mixed_parquet):
    out = tmp_path / "b.parquet"
    code, stdout, err = run(["balance", mixed_parquet, out, "--label", "s", "--model-dir",
                             mixed_artifact, "--quiet"], capsys)
    assert_clean_failure(code, stdout, err, r"trained with label 'label', not 's'", out, tmp_path)


def test_artifact_unknown_class_in_input(tmp_path, capsys, mixed_artifact, mixed_table):
    labels = mixed_table.column("label").to_pylist()
    labels[0] = "new"
    src = write(with_column(mixed_table, "label", pa.array(labels)), tmp_path / "in.parquet")
    out = tmp_path / "b.parquet"
    code, stdout, err = run(["balance", src, out, "--label", "label", "--model-dir", mixed_artifact,
                             "--quiet"], capsys)
    assert_clean_failure(code, stdout, err, r"input has classes \['new'\] the model in .* does not know",
                         out, tmp_path)


# ---------------------------------------------------------------------- unseen category at score time
def _unseen_category_table(mixed_table):
    values = mixed_table.column("s").to_pylist()
    values[3] = "never-seen"
    return with_column(mixed_table, "s", pa.array(values))


def test_unseen_category_at_encode_and_score(mixed_artifact, mixed_table):
    from vae_augment.artifact import load_artifact
    from vae_augment.errors import SchemaError
    from vae_augment.scoring import anomaly_scores, encode_latent

    art = load_artifact(str(mixed_artifact))
    bad = _unseen_category_table(mixed_table)
    message = r"column 's' has categories \['never-seen'\] the model was not trained on"
    with pytest.raises(SchemaError, match=message):
        art.encoding.encode(bad)
    with pytest.raises(SchemaError, match=message):
        anomaly_scores(art, bad)
    with pytest.raises(SchemaError, match=message):
        encode_latent(art, bad)
    assert len(anomaly_scores(art, mixed_table)) == mixed_table.num_rows  # good rows still score


@pytest.mark.parametrize("command", ["score", "encode"])
def test_unseen_category_cli(tmp_path, capsys, mixed_artifact, mixed_table, command):
    src = write(_unseen_category_table(mixed_table), tmp_path / "in.parquet")
    out = tmp_path / "scored.parquet"
    code, stdout, err = run([command, src, out, "--model-dir", mixed_artifact], capsys)
    assert_clean_failure(code, stdout, err, r"column 's' has categories \['never-seen'\]", out, tmp_path)


# ---------------------------------------------------------------------- documented behaviours
def test_class_with_one_row_is_balanced(tmp_path, capsys):
    """A class with a single row works: the model is conditioned on it and fills it up."""
    t = base_table(150)
    labels = np.where(np.arange(150) == 17, "rare", "common")
    src = write(with_column(t, "label", pa.array(labels)), tmp_path / "in.parquet")
    out = tmp_path / "b.parquet"
    code, stdout, err = run(["balance", src, out, "--label", "label", *FAST_ARGS], capsys)
    assert code == 0, err
    got = pq.read_table(out)
    assert got.filter(got.column("is_synthetic")).column("label").to_pylist() == ["rare"] * 148
    assert re.search(r"rare\s+1\s+148\s+149", stdout), stdout


@pytest.fixture(scope="module")
def passthrough_balance(tmp_path_factory):
    """One `balance` (it trains, tiny settings) of a 150-row table with an all-null numeric
    and string column, a constant string column, and struct / map / nested-list columns
    passed with --exclude: (the input table, the names of those two kinds of column, the
    output). The two tests below each read it (they each trained such a run before)."""
    n = 150
    t = base_table(n)
    t = t.append_column("nothing", pa.nulls(n, pa.float64()))
    t = t.append_column("nothing_s", pa.array([None] * n, pa.string()))
    t = t.append_column("always", pa.array(["same"] * n))
    t = t.append_column("addr", pa.StructArray.from_arrays([pa.array(np.arange(n))], ["x"]))
    t = t.append_column("attrs", pa.array([[("k", i)] for i in range(n)], pa.map_(pa.string(), pa.int64())))
    t = t.append_column("seqs", pa.array([[[i]] for i in range(n)], pa.list_(pa.list_(pa.int64()))))
    d = tmp_path_factory.mktemp("passthrough")
    src = write(t, d / "in.parquet")
    out = d / "b.parquet"
    code, _, err = run(["balance", src, out, "--label", "label", "--exclude", "addr", "--exclude",
                        "attrs", "--exclude", "seqs", *FAST_ARGS])
    return {"table": t, "code": code, "err": err, "got": pq.read_table(out) if code == 0 else None}


def test_all_null_and_constant_columns_pass_through(passthrough_balance):
    """An all-null column stays null in synthetic rows; a constant column stays constant."""
    t, got = passthrough_balance["table"], passthrough_balance["got"]
    assert passthrough_balance["code"] == 0, passthrough_balance["err"]
    synth = got.filter(got.column("is_synthetic"))
    assert synth.num_rows > 0
    assert synth.column("nothing").null_count == synth.num_rows
    assert synth.column("nothing_s").null_count == synth.num_rows
    assert set(synth.column("always").to_pylist()) == {"same"}
    assert set(synth.column("const").to_pylist()) == {7.0}  # numeric constant column
    real = got.filter(pa.compute.invert(got.column("is_synthetic"))).drop_columns(["is_synthetic"])
    assert real.equals(t)


def test_nested_columns_pass_through_with_exclude(passthrough_balance):
    """Struct/map/list columns are not modelled; with --exclude they pass through real rows."""
    t, got = passthrough_balance["table"], passthrough_balance["got"]
    assert passthrough_balance["code"] == 0, passthrough_balance["err"]
    flag = got.column("is_synthetic").to_numpy(zero_copy_only=False)
    assert got.filter(pa.array(~flag)).drop_columns(["is_synthetic"]).equals(t)
    synth = got.filter(pa.array(flag))
    assert synth.num_rows > 0
    for name in ("addr", "attrs", "seqs"):
        assert synth.column(name).null_count == synth.num_rows


# ---------------------------------------------------------------------- data safety
def test_failure_mid_write_keeps_previous_output(tmp_path, capsys, mixed_artifact, mixed_parquet):
    """An error raised after real rows were written (the privacy filter cannot fill a class)
    leaves the previous output byte-identical and no temporary file, even with --overwrite."""
    out = tmp_path / "b.parquet"
    code, _, err = run(["balance", mixed_parquet, out, "--label", "label", "--model-dir",
                        mixed_artifact, "--quiet"], capsys)
    assert code == 0, err
    before = out.read_bytes()
    code, stdout, err = run(["balance", mixed_parquet, out, "--label", "label", "--model-dir",
                             mixed_artifact, "--quiet", "--overwrite", "--privacy-min-distance", "50"],
                            capsys)
    assert code == 2 and "dropped too many synthetic rows of class 'b'" in err
    assert err.count("\n") == 1
    assert out.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_failure_keeps_previous_sharded_output(tmp_path, capsys, mixed_artifact, mixed_parquet):
    out = tmp_path / "shards"
    code, _, err = run(["balance", mixed_parquet, out, "--label", "label", "--model-dir",
                        mixed_artifact, "--quiet", "--output-shards", "2"], capsys)
    assert code == 0, err
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, _, err = run(["balance", mixed_parquet, out, "--label", "label", "--model-dir",
                        mixed_artifact, "--quiet", "--output-shards", "3", "--overwrite",
                        "--privacy-min-distance", "50"], capsys)
    assert code == 2
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("first,second", [(None, 2), (2, None), (2, 3)])
def test_overwrite_between_file_and_directory(tmp_path, capsys, mixed_artifact, mixed_parquet,
                                              first, second):
    """--overwrite replaces a file by a sharded directory and back, leaving nothing behind."""
    out = tmp_path / "out"
    for shards in (first, second):
        extra = ["--output-shards", shards] if shards else []
        code, _, err = run(["balance", mixed_parquet, out, "--label", "label", "--model-dir",
                            mixed_artifact, "--quiet", "--overwrite", *extra], capsys)
        assert code == 0, err
    assert out.is_dir() == bool(second)
    if second:
        assert len(os.listdir(out)) == second
    assert pq.read_table(out).num_rows == 3 * 186
    assert leftovers(tmp_path) == []


def test_error_messages_name_options_as_the_caller_sets_them(tmp_path, capsys, mixed_artifact):
    """The CLI's messages name flags (shell-quoted column names), Python's the keyword
    arguments, whatever the column is called."""
    import vae_augment as va
    from vae_augment.errors import cli_wording, option

    assert option("exclude", "sign up", many=True) == "exclude=['sign up']"
    assert option("overwrite", True) == "overwrite=True" and option("max_categories") == "max_categories"
    with cli_wording():
        assert option("exclude", "sign up", many=True) == "--exclude 'sign up'"
        assert option("exclude", "a") == "--exclude a" and option("overwrite", True) == "--overwrite"
        assert option("max_categories") == "--max-categories"
    assert option("overwrite", True) == "overwrite=True"  # restored on leaving
    t = make_mixed_table(40)
    st = pa.StructArray.from_arrays([pa.array(np.arange(40)), pa.array(np.ones(40))], ["x", "y"])
    src = tmp_path / "struct.parquet"
    pq.write_table(t.append_column("home addr", st), src)
    code, _, err = run(["fit", src, "--label", "label", "--model-dir", tmp_path / "m", *FAST_ARGS],
                       capsys)
    assert code == 2 and "exclude it with --exclude 'home addr'" in err, err
    with pytest.raises(va.SchemaError, match=re.escape("exclude it with exclude=['home addr']")):
        va.fit(str(src), label="label", model_dir=str(tmp_path / "m2"), epochs=1)
    out = tmp_path / "s.parquet"
    out.write_bytes(b"previous")
    with pytest.raises(va.InputError, match=re.escape("pass overwrite=True to replace it")):
        va.balance(str(src), str(out), label="label", model_dir=str(mixed_artifact))


def test_sample_overwrite_flag(tmp_path, capsys, mixed_artifact):
    out = tmp_path / "s.parquet"
    out.write_bytes(b"previous")
    code, _, err = run(["sample", out, "--model-dir", mixed_artifact, "--n", "5"], capsys)
    assert code == 2 and "pass --overwrite" in err and out.read_bytes() == b"previous"
    code, _, err = run(["sample", out, "--model-dir", mixed_artifact, "--n", "5", "--overwrite"], capsys)
    assert code == 0, err
    assert pq.read_table(out).num_rows == 15
    assert leftovers(tmp_path) == []


def test_output_path_never_joined_with_data_values(tmp_path, capsys, mixed_artifact):
    """Class values that look like paths never reach a file name."""
    t = base_table(150)
    evil = ["../evil", "/tmp/vae_augment_abs_evil", "..\\win"]
    labels = np.array([evil[0]] * 100 + [evil[1]] * 30 + [evil[2]] * 20)
    t = with_column(t, "label", pa.array(labels))
    t = with_column(t, "s", pa.array(["../../x"] * 150))
    work = tmp_path / "work"
    work.mkdir()
    src = write(t, work / "in.parquet")
    out = work / "out"
    model = work / "model"
    before_parent = sorted(os.listdir(tmp_path))
    code, _, err = run(["balance", src, out, "--label", "label", "--model-dir", model,
                        "--output-shards", "2", *FAST_ARGS], capsys)
    assert code == 0, err
    assert sorted(os.listdir(tmp_path)) == before_parent
    assert sorted(os.listdir(work)) == ["in.parquet", "model", "out"]
    assert sorted(os.listdir(out)) == ["part-00000-of-00002.parquet", "part-00001-of-00002.parquet"]
    assert not os.path.exists("/tmp/vae_augment_abs_evil")
    got = pq.read_table(out)
    assert set(got.column("label").to_pylist()) == set(evil)
    # sample a class named like a path: still one file, where we asked
    sample_out = work / "one.parquet"
    code, _, err = run(["sample", sample_out, "--model-dir", model, "--class", "../evil", "--n", "3"], capsys)
    assert code == 0, err
    assert sorted(os.listdir(work)) == ["in.parquet", "model", "one.parquet", "out"]
    assert pq.read_table(sample_out).column("label").to_pylist() == ["../evil"] * 3


# ---------------------------------------------------------------------- reproducibility
def test_sample_same_seed_same_bytes(tmp_path, capsys, mixed_artifact):
    outs = []
    for i, seed in enumerate([11, 11, 12]):
        out = tmp_path / f"s{i}.parquet"
        code, _, err = run(["sample", out, "--model-dir", mixed_artifact, "--n", "300", "--seed", seed],
                           capsys)
        assert code == 0, err
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]
    assert outs[0] != outs[2]


def test_balance_in_memory_model_and_reloaded_artifact_same_bytes(tmp_path, capsys, mixed_parquet):
    """Training then balancing equals balancing later from the saved artifact, byte for byte."""
    model = tmp_path / "model"
    first, second, third = (tmp_path / f"b{i}.parquet" for i in range(3))
    code, _, err = run(["balance", mixed_parquet, first, "--label", "label", "--model-dir", model,
                        "--seed", "5", *FAST_ARGS], capsys)
    assert code == 0, err
    for out in (second, third):
        code, _, err = run(["balance", mixed_parquet, out, "--label", "label", "--model-dir", model,
                            "--seed", "5", "--quiet"], capsys)
        assert code == 0, err
    assert first.read_bytes() == second.read_bytes() == third.read_bytes()


def test_real_process_same_bytes_as_in_process(tmp_path, capsys, mixed_artifact):
    out_a, out_b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    code, _, err = run(["sample", out_a, "--model-dir", mixed_artifact, "--n", "100", "--seed", "3"], capsys)
    assert code == 0, err
    proc = subprocess.run([sys.executable, "-m", "vae_augment.cli", "sample", str(out_b), "--model-dir",
                           str(mixed_artifact), "--n", "100", "--seed", "3"],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"output": str(out_b), "rows_written": 300}
    assert out_a.read_bytes() == out_b.read_bytes()


@pytest.mark.parametrize("argv,pattern", [
    (["sample", "OUT", "--model-dir", "MODEL", "--n", "-4"], r"`--n` must be a non-negative integer, got -4"),
    (["balance", "SRC", "OUT", "--label", "label", "--sampling-strategy", '{"b": 2.5}'],
     r"target for class 'b' must be a non-negative integer, got 2\.5"),
    (["sample", "OUT", "--model-dir", "TAMPERED", "--n", "3"], r"does not match its checksum"),
])
def test_real_process_bad_input(tmp_path, mixed_artifact, mixed_parquet, argv, pattern):
    """The installed console script: one line on stderr, nothing on stdout, exit code 2."""
    tampered, _ = _artifact_case(tmp_path, mixed_artifact, "tampered_encoding")
    subs = {"OUT": str(tmp_path / "o.parquet"), "MODEL": str(mixed_artifact),
            "SRC": str(mixed_parquet), "TAMPERED": str(tampered)}
    exe = os.path.join(os.path.dirname(sys.executable), "vae-augment")
    if not os.path.exists(exe):
        exe = shutil.which("vae-augment")
    assert exe, "console script vae-augment is not installed"
    proc = subprocess.run([exe, *[subs.get(a, a) for a in argv]], capture_output=True, text=True,
                          timeout=300)
    assert_clean_failure(proc.returncode, proc.stdout, proc.stderr, pattern, subs["OUT"], tmp_path)


def test_real_process_beam_job_stderr_is_quiet(tmp_path, mixed_artifact, mixed_parquet):
    """`python -m pipelines.sample`: stderr holds neither TensorFlow's C++ start-up lines
    nor Beam's BigQuery import notice, on success and on bad input (then one line, exit 2)."""
    out = tmp_path / "out"
    ok = subprocess.run([sys.executable, "-m", "pipelines.sample", "--model-dir",
                         str(mixed_artifact), "--output", str(out), "--n", "50"],
                        capture_output=True, text=True, cwd=REPO, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["output"] == str(out)
    assert ok.stderr.strip() == "", ok.stderr
    # a class the model does not know: found after TensorFlow's import (a missing model
    # directory is said before it)
    bad = subprocess.run([sys.executable, "-m", "pipelines.sample", "--model-dir",
                          str(mixed_artifact), "--output", str(tmp_path / "o2"), "--n", "5",
                          "--class", "nope"],
                         capture_output=True, text=True, cwd=REPO, timeout=300)
    assert bad.returncode == 2 and bad.stdout == ""
    assert len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert bad.stderr.startswith("pipelines.sample: error: ") and "'nope'" in bad.stderr


# ---------------------------------------------------------------------- privacy filter
def test_privacy_filter_balance(tmp_path, capsys, mixed_artifact, mixed_parquet):
    from vae_augment.api import balance
    from vae_augment.artifact import load_artifact
    from vae_augment.privacy import distance_to_closest

    art = load_artifact(str(mixed_artifact))
    real = pq.read_table(mixed_parquet)
    # the unfiltered run, and a distance that some of its synthetic rows fall within
    plain = balance(str(mixed_parquet), label="label", model_dir=str(mixed_artifact))["table"]
    plain_synth = plain.filter(plain.column("is_synthetic")).drop_columns(["is_synthetic"])
    dists = distance_to_closest(art.encoding, real, plain_synth)
    d = float(np.quantile(dists, 0.05))
    n_close = int((dists <= d).sum())
    assert n_close > 0

    out = tmp_path / "b.parquet"
    code, stdout, err = run(["balance", mixed_parquet, out, "--label", "label", "--model-dir",
                             mixed_artifact, "--quiet", "--privacy-min-distance", repr(d)], capsys)
    assert code == 0, err
    dropped = int(re.search(r"privacy filter dropped (\d+) synthetic rows within distance", stdout)[1])
    assert dropped >= n_close  # the rows the plain run kept within d, plus any close replacements
    got = pq.read_table(out)
    counts = dict(zip(*np.unique(got.column("label").to_numpy(zero_copy_only=False), return_counts=True)))
    assert counts == {"a": 186, "b": 186, "c": 186}  # targets met despite the drops
    synth = got.filter(got.column("is_synthetic")).drop_columns(["is_synthetic"])
    assert distance_to_closest(art.encoding, real, synth).min() > d
    assert got.slice(0, real.num_rows).drop_columns(["is_synthetic"]).equals(real)


def test_privacy_filter_replaces_from_further_blocks(mixed_artifact):
    """Rows equal to the reference are dropped and replaced by the block's next passing rows
    (every row of a block is checked: session 31's audit found extra blocks checking only
    the few rows still missing, so a class failed at drop rates near 45 %)."""
    from vae_augment.api import sample
    from vae_augment.artifact import load_artifact
    from vae_augment.sampler import Sampler

    art = load_artifact(str(mixed_artifact))
    plain = sample(art, {"c": 40}, seed=2)
    stats = {}
    filtered = sample(art, {"c": 40}, seed=2, privacy_min_distance=0.0,
                      reference=plain.drop_columns(["is_synthetic"]), stats=stats)
    assert stats["privacy_dropped"] == {"c": 40}
    block = Sampler(art, guided=False).generate_block(art.encoding.class_index("c"), 2, 0)
    assert filtered.equals(pa.Table.from_batches([block.slice(40, 40)]))
    # a filtered request's first rows are a smaller filtered request's
    more = sample(art, {"c": 90}, seed=2, privacy_min_distance=0.0,
                  reference=plain.drop_columns(["is_synthetic"]))
    assert more.slice(0, 40).equals(filtered)
    again = sample(art, {"c": 40}, seed=2, privacy_min_distance=0.0,
                   reference=plain.drop_columns(["is_synthetic"]))
    assert again.equals(filtered)


def test_privacy_filter_nothing_dropped_same_bytes(tmp_path, capsys, mixed_artifact, mixed_parquet):
    outs = []
    for i, extra in enumerate([[], ["--privacy-min-distance", "0", "--reference", mixed_parquet]]):
        out = tmp_path / f"s{i}.parquet"
        code, stdout, err = run(["sample", out, "--model-dir", mixed_artifact, "--n", "200",
                                 "--seed", "4", *extra], capsys)
        assert code == 0, err
        outs.append(out.read_bytes())
    assert json.loads(stdout)["privacy_dropped"] == 0
    assert outs[0] == outs[1]


def test_privacy_filter_bounded_attempts(mixed_artifact, mixed_table):
    from vae_augment.api import sample
    from vae_augment.artifact import load_artifact
    from vae_augment.errors import VAEAugmentError
    from vae_augment.sampler import Sampler

    rows = Sampler(load_artifact(str(mixed_artifact))).block_rows
    with pytest.raises(VAEAugmentError, match=rf"dropped too many synthetic rows of class 'a': "
                                              rf"0 of 10 kept after 9 blocks \({9 * rows} "
                                              rf"dropped\)"):
        sample(str(mixed_artifact), {"a": 10}, seed=0, privacy_min_distance=100.0,
               reference=mixed_table)


def test_privacy_filter_fills_a_class_at_a_high_drop_rate(mixed_artifact, mixed_table):
    """Half the rows within the distance: the class fills (it failed at any drop rate over
    about 45 %), from block 0 alone here."""
    from vae_augment.api import sample
    from vae_augment.artifact import load_artifact
    from vae_augment.privacy import distance_to_closest

    art = load_artifact(str(mixed_artifact))
    plain = sample(art, {"b": 400}, seed=1).drop_columns(["is_synthetic"])
    d = float(np.median(distance_to_closest(art.encoding, mixed_table, plain)))
    stats = {}
    got = sample(art, {"b": 300}, seed=1, privacy_min_distance=d, reference=mixed_table,
                 stats=stats)
    assert got.num_rows == 300 and stats["privacy_dropped"]["b"] > 150
    dist = distance_to_closest(art.encoding, mixed_table, got.drop_columns(["is_synthetic"]))
    assert dist.min() > d


def test_privacy_filter_refuses_a_reference_it_cannot_use(mixed_artifact, mixed_table,
                                                          tmp_path):
    """A reference with no row of the class turned the filter off without a word; one
    whose label has another type gave a pyarrow traceback; two keys of one class gave the
    same rows twice."""
    import pyarrow.compute as pc

    from vae_augment.api import sample
    from vae_augment.errors import SchemaError, VAEAugmentError

    only_a = mixed_table.filter(pc.equal(mixed_table.column("label"), "a"))
    with pytest.raises(VAEAugmentError, match=r"`reference` has no rows of class 'b' to "
                                              r"compare its synthetic rows with"):
        sample(str(mixed_artifact), {"b": 5}, privacy_min_distance=0.0, reference=only_a)
    i = mixed_table.schema.get_field_index("label")
    coded = mixed_table.set_column(i, "label", pc.utf8_length(mixed_table.column("label")))
    pq.write_table(coded, tmp_path / "coded.parquet")
    for ref in (coded, str(tmp_path / "coded.parquet")):
        with pytest.raises(SchemaError, match=r"`reference` does not match the schema the "
                                              r"model was trained on: column 'label'"):
            sample(str(mixed_artifact), {"b": 5}, privacy_min_distance=0.0, reference=ref)
    for kwargs in ({}, {"privacy_min_distance": 0.0, "reference": mixed_table}):
        with pytest.raises(VAEAugmentError, match=r"class 'b' twice"):
            sample(str(mixed_artifact), {"b": 5, b"b": 7}, **kwargs)


def test_privacy_filter_leaves_out_reference_rows_of_unseen_categories(
        tmp_path, mixed_artifact, mixed_table):
    """`balance --model-dir` passes real rows with a category the model never saw through
    unchanged, but the filter's encoding of them failed the run."""
    from vae_augment.api import balance

    s = mixed_table.column("s").to_pylist()
    labels = mixed_table.column("label").to_pylist()
    s[labels.index("c")] = "never-seen"
    src = tmp_path / "in.parquet"
    pq.write_table(mixed_table.set_column(mixed_table.schema.get_field_index("s"), "s",
                                          pa.array(s)), src)
    with pytest.warns(UserWarning, match=r"1 reference rows of class 'c' hold categories the "
                                         r"model never saw"):
        out = balance(str(src), label="label", model_dir=str(mixed_artifact),
                      privacy_min_distance=0.0)
    assert out["table"].num_rows == 3 * max(out["counts_before"].values())


def test_retried_beam_shard_gives_identical_rows(mixed_artifact):
    """A bundle retried (same worker, or a fresh worker with its own model copy) re-emits the
    very same rows, equal to the CLI/API rows of those blocks."""
    from apache_beam.utils.shared import Shared

    from vae_augment.api import sample
    from vae_augment.artifact import read_artifact_meta
    from vae_augment.beam.generate import _GenerateFn, plan_shards
    from vae_augment.sampler import BLOCK_ROWS

    encoding, _ = read_artifact_meta(str(mixed_artifact))
    counts = {"c": BLOCK_ROWS + 25}
    shards = plan_shards(encoding, counts, BLOCK_ROWS)
    assert len(shards) == 2

    def run_shard(fn, shard):
        return pa.concat_tables(list(fn.process(shard)))

    first = _GenerateFn(str(mixed_artifact), Shared(), 6)
    first.setup()
    retry_same_worker = [run_shard(first, s) for s in shards]
    again = [run_shard(first, s) for s in reversed(shards)][::-1]
    other = _GenerateFn(str(mixed_artifact), Shared(), 6)
    other.setup()
    other_worker = [run_shard(other, s) for s in reversed(shards)][::-1]
    for a, b, c in zip(retry_same_worker, again, other_worker):
        assert a.equals(b) and a.equals(c)
    api_rows = sample(str(mixed_artifact), counts, seed=6)
    assert pa.concat_tables(retry_same_worker).equals(api_rows)


def test_outputs_get_the_umask_mode_not_tempfile_s(tmp_path, capsys, mixed_artifact, mixed_parquet):
    """Atomic writes go through `tempfile` (0600 files, 0700 directories); what ends up under
    the final name has the mode a plain write would give: 0666 / 0777 less the umask."""
    import stat

    old = os.umask(0o022)
    try:
        one, shards, model = tmp_path / "one.parquet", tmp_path / "shards", tmp_path / "model"
        assert run(["sample", one, "--model-dir", mixed_artifact, "--n", "5"], capsys)[0] == 0
        assert run(["sample", shards, "--model-dir", mixed_artifact, "--n", "5",
                    "--output-shards", "2"], capsys)[0] == 0
        assert run(["fit", mixed_parquet, "--label", "label", "--model-dir", model,
                    *FAST_ARGS], capsys)[0] == 0
    finally:
        os.umask(old)
    mode = {p.name: stat.S_IMODE(p.stat().st_mode) for p in (one, shards, model)}
    assert mode == {"one.parquet": 0o644, "shards": 0o755, "model": 0o755}
    assert {stat.S_IMODE(p.stat().st_mode) for p in [*shards.iterdir(), *model.iterdir()]} == {0o644}


def test_balance_with_a_trained_model_keeps_the_input_s_metadata(tmp_path, capsys, mixed_artifact,
                                                                  mixed_table):
    """The output schema is the input's (schema and field metadata included) plus
    `is_synthetic`, not the schema of the file the model was trained on."""
    field = mixed_table.schema.field("label").with_metadata({"role": "target"})
    schema = mixed_table.schema.set(mixed_table.schema.get_field_index("label"), field)
    schema = schema.with_metadata({**mixed_table.schema.metadata, b"owner": b"team-a"})
    src, out = tmp_path / "in.parquet", tmp_path / "out.parquet"
    pq.write_table(mixed_table.cast(schema), src)
    code, _, err = run(["balance", src, out, "--label", "label", "--model-dir", mixed_artifact],
                       capsys)
    assert code == 0, err
    got = pq.read_schema(out)
    assert got.metadata[b"owner"] == b"team-a" and got.field("label").metadata == {b"role": b"target"}
    want = pq.read_schema(src).append(pa.field("is_synthetic", pa.bool_(), nullable=False))
    assert got.equals(want, check_metadata=True)


@pytest.mark.parametrize("change, message", [
    (lambda t: t.drop_columns(["s"]), r"input '.*in\.parquet' does not match the schema artifact "
                                      r"'.*' was trained on: column 's' is missing$"),
    (lambda t: t.append_column("extra", pa.array(np.zeros(t.num_rows))),
     r"column 'extra' is not expected$"),
    (lambda t: t.drop_columns(["f", "s"]), r"2 columns are missing: 'f', 's'$"),
    (lambda t: t.select(["i", "f", *t.column_names[2:]]),
     r"the columns are in another order: column 1 is 'i', expected 'f'$"),
])
def test_schema_mismatch_names_the_file_and_the_columns(tmp_path, capsys, mixed_artifact,
                                                        mixed_table, change, message):
    src = tmp_path / "in.parquet"
    pq.write_table(change(mixed_table), src)
    code, _, err = run(["balance", src, tmp_path / "o.parquet", "--label", "label",
                        "--model-dir", mixed_artifact], capsys)
    assert code == 2 and re.search(message, err.strip()), err
    assert not (tmp_path / "o.parquet").exists()


def test_inputs_matched_twice_are_read_once(tmp_path, mixed_table):
    from vae_augment.io import resolve_inputs

    d = tmp_path / "d"
    d.mkdir()
    for name in ("a", "b"):
        pq.write_table(mixed_table, d / f"{name}.parquet")
    got = resolve_inputs([str(d / "b.parquet"), str(d), str(d / "*.parquet"),
                          str(tmp_path / "d" / ".." / "d" / "a.parquet")])
    assert got == [str(d / "b.parquet"), str(d / "a.parquet")]


def test_fit_gives_back_the_caller_s_global_rngs(mixed_table):
    import random

    from vae_augment.api import fit

    np.random.seed(7)
    random.seed(7)
    want = (np.random.rand(), random.random())
    np.random.seed(7)
    random.seed(7)
    fit(mixed_table.slice(0, 90), label="label", seed=0, epochs=1, batch_size=64, latent_dim=2,
        hidden=(8,), guide_iterations=2)  # the guide's seeded sampling included
    assert (np.random.rand(), random.random()) == want


def test_null_tensors_learned_in_memory_are_never_written_unreadable(tmp_path, capsys):
    """A table in memory may carry null tensors, which pyarrow 25 cannot read back from
    Parquet: fitting on it warns, and writing such rows fails before any file appears."""
    import warnings

    from vae_augment.api import fit, sample
    from vae_augment.io import null_fixed_size_lists_readable

    rng = np.random.default_rng(0)
    n = 200
    mask = np.arange(n) % 5 == 0
    img = pa.FixedSizeListArray.from_arrays(
        pa.array(rng.integers(0, 16, n * 16).astype(np.uint8)), 16, mask=pa.array(mask))
    table = pa.table({"img": img, "x": rng.normal(size=n), "label": np.repeat(["a", "b"], [150, 50])})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(table, label="label", model_dir=str(tmp_path / "m"), epochs=2, hidden=(8,),
            latent_dim=2, verbose=0)
    said = [w for w in caught if "null rows" in str(w.message)]
    if null_fixed_size_lists_readable():  # a pyarrow with apache/arrow#35692 fixed
        assert not said
        return
    assert len(said) == 1 and "['img']" in str(said[0].message)
    rows = sample(str(tmp_path / "m"), {"a": 400}, seed=0)  # in memory: fine
    assert rows.column("img").null_count > 0
    out = tmp_path / "s.parquet"
    code, _, err = run(["sample", out, "--model-dir", tmp_path / "m", "--n", "400"], capsys)
    assert code == 2 and "column 'img' has null tensors to write" in err, err
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".s.")]


def test_privacy_filter_failure_says_how_far_the_draws_lay(mixed_artifact, mixed_table):
    """A class the filter cannot fill said only "lower `privacy_min_distance`": the scale is
    the encoding's, hard to guess (on digits a distance of 1 dropped every draw). The error
    now gives the draws' median distance and one that keeps about 95 % of them, and that
    distance does fill the class."""
    import re

    from vae_augment.api import sample
    from vae_augment.errors import VAEAugmentError

    with pytest.raises(VAEAugmentError) as caught:
        sample(str(mixed_artifact), {"a": 10}, seed=0, privacy_min_distance=100.0,
               reference=mixed_table)
    m = re.search(r"; its first (\d+) draws lay a median ([\d.e+-]+) from the nearest real row "
                  r"of their class, and a distance of ([\d.e+-]+) would have kept about 95 % of "
                  r"them; or refit with beta=1: at this model's KL weight 0.5 its rows sit near "
                  r"their training rows \(bundled churn .*\)$", str(caught.value))
    assert m, str(caught.value)
    # a model fitted at KL weight 1 gets no such hint
    from types import SimpleNamespace

    from vae_augment.private_sampling import _refit_hint
    assert _refit_hint(SimpleNamespace(artifact=SimpleNamespace(model=SimpleNamespace(beta=1.0)))) == ""
    n, median, d95 = int(m.group(1)), float(m.group(2)), float(m.group(3))
    assert n >= 8192 and 0 < d95 < median < 100
    stats = {}
    out = sample(str(mixed_artifact), {"a": 10}, seed=0, privacy_min_distance=d95,
                 reference=mixed_table, stats=stats)
    assert out.num_rows == 10 and stats["privacy_dropped"]["a"] <= 3
