"""Class null rules (`Encoding.class_null_rules`): a column null in every training row of a
class, or in none, is so in every generated row of it too; the likelihood heads alone left a
few per cent (a schema audit measured about 3 %)."""

import numpy as np
import pyarrow as pa
import pytest

from .conftest import FAST

TRAIN = {**FAST, "epochs": 6, "patience": 6, "hidden": (32,)}


def nulls_table(n: int = 3000, seed: int = 0) -> pa.Table:
    """``only_a`` is null in every row of class b and in 10 % of class a's; ``kind`` (a
    category) is never null in class a and null in 30 % of class b's; ``x`` has no nulls."""
    rng = np.random.default_rng(seed)
    label = np.where(rng.random(n) < 0.7, "a", "b")
    a = label == "a"
    return pa.table({
        "x": rng.normal(size=n),
        "only_a": pa.array(rng.gamma(2.0, 1.0, n), mask=~a | (rng.random(n) < 0.1)),
        "kind": pa.array(rng.choice(["p", "q", "r"], n), mask=~a & (rng.random(n) < 0.3)),
        "label": label,
    })


def null_shares(artifact, cls, rows=4000):
    from vae_augment.sampler import Sampler

    out = pa.Table.from_batches(
        list(Sampler(artifact).iter_counts({cls: rows}, seed=1, progress=False)))
    return {c: out[c].null_count / out.num_rows for c in ("x", "only_a", "kind")}


@pytest.fixture(scope="module")
def fitted():
    from vae_augment import UNGUIDED
    from vae_augment.api import fit

    # one plain draw a row (no guide): the model's own null rates show in the rows
    table = nulls_table()
    return (fit(table, label="label", seed=0, **{**TRAIN, **UNGUIDED}),
            fit(table, label="label", seed=0, constraints="none", **{**TRAIN, **UNGUIDED}))


def test_the_rules_come_from_the_class_null_counts():
    from vae_augment.preparation import fit_encoding

    table = nulls_table()
    encoding = fit_encoding(table, label="label")
    a = np.asarray(table["label"]) == "a"
    assert encoding.class_nulls == {
        "only_a": [int((a & np.asarray(table["only_a"].is_null())).sum()), int((~a).sum())],
        "kind": [0, int(table["kind"].null_count)]}
    null_rule, cat_rule = encoding.class_null_rules()
    assert null_rule.tolist() == [[0], [1]]  # only_a: always null in b, a left to the model
    assert cat_rule.tolist() == [[-1], [0]]  # kind: never null in a
    layout = encoding.layout()
    assert layout["class_null_rule"] == [[0], [1]]
    assert layout["class_cat_null_rule"] == [[-1], [0]]


def test_generated_rows_keep_the_rules_and_the_free_rates(fitted):
    auto, plain = fitted
    a, b = null_shares(auto, "a"), null_shares(auto, "b")
    assert b["only_a"] == 1.0 and a["kind"] == 0.0
    assert 0.03 < a["only_a"] < 0.3 and 0.1 < b["kind"] < 0.5  # the model's own rates
    assert a["x"] == b["x"] == 0.0
    # the heads alone do leak (what the rules are for): this tiny model leaves values in
    # well over 1 % of class b's only_a
    assert null_shares(plain, "b")["only_a"] < 0.99


def test_the_rules_survive_the_artifact_and_hold_in_the_guided_draws(fitted, tmp_path):
    from vae_augment.api import fit
    from vae_augment.artifact import load_artifact, save_artifact

    auto, _ = fitted
    save_artifact(str(tmp_path / "m"), auto.model, auto.encoding)
    loaded = load_artifact(str(tmp_path / "m"))
    assert loaded.encoding.class_nulls == auto.encoding.class_nulls
    assert loaded.model.layout["class_null_rule"] == [[0], [1]]
    assert null_shares(loaded, "b")["only_a"] == 1.0
    guided = fit(nulls_table(), label="label", seed=0, **{**TRAIN, "candidates": 4})
    assert null_shares(guided, "b")["only_a"] == 1.0
    assert null_shares(guided, "a", 2000)["kind"] == 0.0


def test_a_few_rows_are_not_evidence_enough():
    """A 3-row class null in every row, where the other class is null half the time
    (0.5**3 = 0.125), gets no rule; a 12-row one does (0.5**12 < 1e-3)."""
    from vae_augment.preparation import fit_encoding

    for rows, want in ((3, 0), (12, 1)):
        n = 400 + rows
        label = np.array(["a"] * 400 + ["b"] * rows)
        mask = np.r_[np.arange(400) % 2 == 0, np.ones(rows, bool)]
        table = pa.table({"v": pa.array(np.arange(n, dtype=float), mask=mask),
                          "w": np.arange(n, dtype=float), "label": label})
        null_rule, _ = fit_encoding(table, label="label").class_null_rules()
        assert null_rule[:, 0].tolist() == [0, want]


def test_merged_partial_statistics_count_like_one_pass():
    """Beam's `fit_stats` merges per-worker statistics: the class null counts add up."""
    from vae_augment.schema import SchemaStats
    from vae_augment.stats_merge import encoding_from_stats, merge_stats

    table = nulls_table(seed=3)
    one = SchemaStats(table.schema, "label")
    one.update(table)
    parts = [SchemaStats(table.schema, "label") for _ in range(3)]
    for k, batch in enumerate(table.to_batches(max_chunksize=250)):
        parts[k % 3].update(batch)
    merged = merge_stats(merge_stats(parts[0], parts[1]), parts[2])
    assert encoding_from_stats(merged).class_nulls == encoding_from_stats(one).class_nulls


def test_old_encodings_and_constraints_none_have_no_rule():
    from vae_augment.encoding import Encoding
    from vae_augment.preparation import fit_encoding

    encoding = fit_encoding(nulls_table(), label="label")
    data = encoding.to_json()
    assert "class_nulls" in data
    data.pop("class_nulls")
    old = Encoding.from_json(data)  # an artifact saved before the rules
    assert "class_null_rule" not in old.layout() and "class_cat_null_rule" not in old.layout()
    none = encoding.with_relations([], constraints=())
    assert "class_null_rule" not in none.layout()
    assert Encoding.from_json(encoding.to_json()).layout() == encoding.layout()


def test_fit_and_info_name_the_rules(tmp_path, capsys):
    import json

    import pyarrow.parquet as pq

    from .conftest import FAST_ARGS, run_cli

    pq.write_table(nulls_table(), tmp_path / "t.parquet")
    code, out, err = run_cli(["fit", tmp_path / "t.parquet", "--label", "label", "--model-dir",
                              tmp_path / "m", *FAST_ARGS], capsys)
    assert code == 0, err
    want = ["only_a is null where label == 'b'", "kind is never null where label == 'a'"]
    assert json.loads(out.strip().splitlines()[-1])["class_nulls"] == want
    code, out, err = run_cli(["info", "--model-dir", tmp_path / "m"], capsys)
    assert code == 0, err
    assert json.loads(out)["class_nulls"] == want
