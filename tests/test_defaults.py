"""The defaults are the guided setting: balancing generates with the class guide, `sample` and
`synthetic_dataset` draw once per row unless asked (``guided=True`` / ``--guided``), and
`--unguided` / `UNGUIDED` give back the former defaults."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from vae_augment import GUIDED, UNGUIDED, TrainConfig, api, load_artifact
from vae_augment.sampler import Sampler, block_rows

from .conftest import FAST, FAST_ARGS, run_cli


def _synthetic(table: pa.Table) -> pa.Table:
    return table.filter(table.column("is_synthetic"))


def test_the_defaults_are_the_guided_setting():
    defaults = dataclasses.asdict(TrainConfig())
    assert {k: defaults[k] for k in GUIDED} == GUIDED
    assert GUIDED["guide_iterations"] > 0 and GUIDED["candidates"] > 1
    # the former defaults differ in every key the presets name
    assert all(UNGUIDED[k] != GUIDED[k] for k in GUIDED) and set(UNGUIDED) == set(GUIDED)


def test_a_guided_model_samples_once_a_row_unless_guided(guided_artifact):
    art = load_artifact(str(guided_artifact))  # FAST's training, the defaults' selection
    assert art.model.guide_iterations == GUIDED["guide_iterations"]
    assert art.model.candidates == GUIDED["candidates"]
    n = 600
    plain = api.sample(art, {"a": n, "b": n}, seed=4)
    guided = api.sample(art, {"a": n, "b": n}, seed=4, guided=True)
    # the plain rows are the model's first draws (candidates=1), the guided ones its selection
    first = pa.Table.from_batches(list(Sampler(art, guided=False).iter_counts(
        {"a": n, "b": n}, 4, progress=False)))
    assert plain.equals(first)
    assert not plain.equals(guided)
    # the guide redraws only rows under their floor: the guided rows score higher with it
    model, enc = art.model, art.encoding
    import tensorflow as tf

    def guide_scores(table):
        x = enc.encode(table)
        y = tf.constant(x.pop("y"))
        return model.guide_proba({k: tf.constant(v) for k, v in x.items()}, y).numpy()

    assert guide_scores(guided).mean() > guide_scores(plain).mean()
    with pytest.raises(api.VAEAugmentError, match="guided"):
        api.sample(art, {"a": 1}, guided="yes")


def test_balance_and_the_oversampler_generate_guided_rows(guided_artifact, mixed_parquet,
                                                         tmp_path):
    """`balance` reusing a model draws exactly what `sample(..., guided=True)` draws."""
    summary = api.balance(str(mixed_parquet), None, label="label", seed=5,
                          model_dir=str(guided_artifact))
    generated = {c: n for c, n in summary["generated"].items() if n}
    assert generated
    synthetic = _synthetic(summary["table"]).drop_columns(["is_synthetic"])
    art = load_artifact(str(guided_artifact))
    guided = api.sample(art, generated, seed=5, guided=True).drop_columns(["is_synthetic"])
    plain = api.sample(art, generated, seed=5).drop_columns(["is_synthetic"])
    assert synthetic.equals(guided.cast(synthetic.schema))
    assert not synthetic.equals(plain.cast(synthetic.schema))


def test_an_unguided_model_samples_the_same_rows_either_way(mixed_parquet, tmp_path):
    art = api.fit(str(mixed_parquet), label="label", seed=0, **{**FAST, **UNGUIDED})
    assert art.model.guide_iterations == 0 and art.model.candidates == 1
    assert api.sample(art, {"a": 300}, seed=1).equals(
        api.sample(art, {"a": 300}, seed=1, guided=True))


def test_cli_presets_and_sample_guided(mixed_parquet, tmp_path, capsys):
    # FAST_ARGS without its --guide-iterations and --candidates, which would win over
    # --unguided's
    fast = [a for i, a in enumerate(FAST_ARGS) if a not in ("--guide-iterations", "--candidates")
            and FAST_ARGS[i - 1] not in ("--guide-iterations", "--candidates")]
    plain_dir, guided_dir = tmp_path / "plain", tmp_path / "guided"
    code, _, _ = run_cli(["fit", str(mixed_parquet), "--label", "label", "--model-dir",
                          str(plain_dir), *fast, "--unguided"], capsys)
    assert code == 0
    model = load_artifact(str(plain_dir)).model
    assert (model.guide_iterations, model.candidates) == (0, 1)
    # a flag beside the preset wins
    code, _, _ = run_cli(["fit", str(mixed_parquet), "--label", "label", "--model-dir",
                          str(guided_dir), *FAST_ARGS, "--unguided", "--guide-iterations",
                          "3", "--candidates", "2"], capsys)
    assert code == 0
    model = load_artifact(str(guided_dir)).model
    assert (model.guide_iterations, model.candidates) == (3, 2)
    code, _, err = run_cli(["fit", str(mixed_parquet), "--label", "label", "--model-dir",
                            str(tmp_path / "both"), *FAST_ARGS, "--guided", "--unguided"],
                           capsys)
    assert code == 2 and "not allowed with argument" in err
    # sample --guided: the rows balance draws; without it, plain draws
    outs = {}
    for flag in ((), ("--guided",)):
        out = tmp_path / f"s{len(flag)}.parquet"
        code, stdout, _ = run_cli(["sample", str(out), "--model-dir", str(guided_dir),
                                   "--class", "a", "--n", "500", "--seed", "2", *flag,
                                   "--quiet"], capsys)
        assert code == 0 and json.loads(stdout)["rows_written"] == 500
        outs[bool(flag)] = pq.read_table(out)
    art = load_artifact(str(guided_dir))
    assert outs[False].equals(api.sample(art, {"a": 500}, seed=2))
    assert outs[True].equals(api.sample(art, {"a": 500}, seed=2, guided=True))
    assert not outs[True].equals(outs[False])


def test_synthetic_dataset_draws_once_unless_guided(guided_artifact):
    from vae_augment.tfdata import synthetic_dataset

    art = load_artifact(str(guided_artifact))
    rows = block_rows(art.encoding)
    got = {}
    for guided in (False, True):
        # the rare class: more of its first draws fall under the guide's floor
        ds = synthetic_dataset(art, "c", batch_size=rows, seed=6, n=500, guided=guided)
        got[guided] = np.concatenate([b["i"].numpy() for b in ds])
        want = api.sample(art, {"c": 500}, seed=6, guided=guided).column("i")
        np.testing.assert_array_equal(got[guided], want.to_numpy(zero_copy_only=False))
    assert not np.array_equal(got[False], got[True])
    with pytest.raises(api.VAEAugmentError, match="guided"):
        synthetic_dataset(art, "a", batch_size=8, seed=0, guided=1)


def test_a_table_the_guide_cannot_see_gets_no_guide(capsys):
    """Tensors of more than `GUIDE_MAX_TENSOR_VALUES` values are no guide features: a table of
    only such an image had a guide of no feature (a KeyError in its fit); it now gets none,
    draws each row once, and the fit says so."""
    from vae_augment.guide import GUIDE_MAX_TENSOR_VALUES

    rng = np.random.default_rng(0)
    side = 33  # 1,089 values > 1,024
    assert side * side > GUIDE_MAX_TENSOR_VALUES
    n = 60
    pixels = rng.integers(0, 256, size=(n, side * side)).astype(np.uint8)
    table = pa.table({
        "img": pa.FixedSizeListArray.from_arrays(pa.array(pixels.reshape(-1)), side * side),
        "label": pa.array(["a"] * 40 + ["b"] * 20),
    })
    art = api.fit(table, label="label", seed=0, **FAST)
    assert (art.model.guide_iterations, art.model.candidates) == (0, 1)
    err = capsys.readouterr().err
    assert "the class guide sees no column of this table" in err and "bank_keep=0.25" in err
    assert api.sample(art, {"b": 10}, seed=0, guided=True).equals(
        api.sample(art, {"b": 10}, seed=0))
