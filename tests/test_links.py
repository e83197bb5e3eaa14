"""Linked columns (`vae_augment.constraints.Link`): a category value that a row has exactly
when a numeric column holds its most frequent value (churn's ``voice_mail_plan == "no"``
exactly when ``number_vmail_messages == 0``), found by ``constraints="auto"``, stored with
the encoding, kept in every generated row, and checked by the evaluation report."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from .conftest import FAST, fit_with_and_without_rules, merged_and_one_pass, run_cli

TRAIN = {**FAST, "epochs": 6, "patience": 6, "hidden": (32,)}


def plans_table(n: int = 2000, seed: int = 0, noise: float = 0.0) -> pa.Table:
    """``plan`` is "no" exactly where ``messages`` is 0 (one exception row; messages null in
    5 % of rows, where plan is either); ``tier`` (three values) is "none" exactly where
    ``extras`` is 0; ``amount`` is null exactly where ``loan`` is "no"; ``calls`` is
    zero-inflated and ``color`` a category, both unrelated to the rest. `noise`: the share
    of rows whose plan is flipped (breaking the link)."""
    rng = np.random.default_rng(seed)
    label = np.where(rng.random(n) < 0.7, "a", "b")
    has = rng.random(n) < np.where(label == "a", 0.4, 0.15)
    messages = np.where(has, rng.integers(5, 50, n), 0)
    plan = np.where(has, "yes", "no")
    plan[0], messages[0] = "yes", 0  # real data has the odd exception
    flip = rng.random(n) < noise
    plan[flip] = np.where(plan[flip] == "yes", "no", "yes")
    null = rng.random(n) < 0.05
    tier = rng.choice(["none", "basic", "premium"], n, p=[0.5, 0.35, 0.15])
    extras = np.where(tier == "none", 0.0, np.round(rng.gamma(2.0, 10.0, n) + 0.5, 1))
    calls = np.where(rng.random(n) < 0.5, 0, rng.integers(1, 30, n))
    loan = rng.random(n) < np.where(label == "a", 0.6, 0.3)
    return pa.table({
        "messages": pa.array(messages, pa.int64(), mask=null),
        "plan": plan,
        "extras": extras,
        "tier": tier,
        "calls": pa.array(calls, pa.int64()),
        "color": rng.choice(["red", "green", "blue"], n),
        "amount": pa.array(np.round(rng.gamma(3.0, 100.0, n), 2), mask=~loan),
        "loan": np.where(loan, "yes", "no"),
        "label": label,
    })


def broken(table: pa.Table, category="plan", value="no", column="messages", spike=0):
    """Rows of `table` (with the numeric value, for a spike) that break ``category == value
    <=> column == spike`` (`spike` None: ``column`` is null)."""
    x = table.column(column).to_numpy(zero_copy_only=False).astype(float)
    c = np.asarray(table.column(category).to_pylist(), object)
    if spike is None:
        return int((np.isnan(x) != (c == value)).sum())
    keep = ~np.isnan(x)
    return int(((x[keep] == spike) != (c[keep] == value)).sum())


def test_discovery_finds_the_linked_columns_and_only_them():
    from vae_augment.constraints import Link, resolve_rules
    from vae_augment.preparation import fit_encoding

    table = plans_table()
    enc = fit_encoding(table, "label")
    _, _, links, _ = resolve_rules("auto", table, enc)
    assert sorted(map(str, links)) == ["loan == 'no' <=> amount is null",
                                      "plan == 'no' <=> messages == 0",
                                      "tier == 'none' <=> extras == 0"]
    tier = next(k for k in links if k.category == "tier")
    assert tier.other == "basic"  # the commonest other value off the spike
    assert resolve_rules("none", table, enc)[2] == []
    with pytest.warns(UserWarning, match="does not hold"):  # named only: no search
        assert resolve_rules(["messages <= extras"], table, enc)[2] == []
    merged, one = merged_and_one_pass(table, enc)  # merged partial counts == one pass
    assert np.array_equal(merged.links.counts, one.links.counts)
    # spikes, and nulls as a spike for the columns with nulls
    assert list(zip(merged.links.columns, merged.links.spikes)) == [
        ("messages", 0.0), ("messages", None), ("extras", 0.0), ("calls", 0.0), ("amount", None)]
    vocabs = {s.name: s.vocab for s in enc.categorical}
    assert merged.links.links(vocabs) == links
    # the counts themselves, against a plain count: plan's codes on / off messages' spike
    # (rows with messages), and by loan's codes, amount null or not (every row)
    plan = np.asarray(table.column("plan").to_pylist(), object)
    msg = table.column("messages").to_numpy(zero_copy_only=False).astype(float)
    k, vocab = merged.links.categories.index("plan"), vocabs["plan"]
    for j, v in enumerate(vocab):
        rows = (plan == v) & ~np.isnan(msg)
        assert list(merged.links.counts[0, k, j]) == [int((rows & (msg == 0)).sum()),
                                                     int((rows & (msg != 0)).sum())]
    loan = np.asarray(table.column("loan").to_pylist(), object)
    amount = table.column("amount").to_numpy(zero_copy_only=False).astype(float)
    k, vocab = merged.links.categories.index("loan"), vocabs["loan"]
    for j, v in enumerate(vocab):
        assert list(merged.links.counts[4, k, j]) == [int(((loan == v) & np.isnan(amount)).sum()),
                                                     int(((loan == v) & ~np.isnan(amount)).sum())]
    # broken in 1 % of the rows: not a link; too few rows: none trusted
    noisy = plans_table(noise=0.01)
    assert [k.category for k in resolve_rules("auto", noisy,
                                              fit_encoding(noisy, "label"))[2]] == ["tier", "loan"]
    small = table.slice(0, 30)
    assert resolve_rules("auto", small, fit_encoding(small, "label"))[2] == []
    assert str(Link("c", True, "n", 0.5, False)) == "c == True <=> n == 0.5"
    assert str(Link("c", "x", "n", None, "y")) == "c == 'x' <=> n is null"


def test_links_travel_with_the_encoding_json():
    from vae_augment.constraints import Link
    from vae_augment.encoding import Encoding
    from vae_augment.preparation import fit_encoding

    enc = fit_encoding(plans_table(), "label")
    k = [Link("plan", "no", "messages", 0.0, "yes"), Link("loan", "no", "amount", None, "yes")]
    back = Encoding.from_json(json.loads(json.dumps(
        enc.with_relations([], ("auto",), [], k).to_json())))
    assert back.links == k and back.constraints == ("auto",)
    assert "links" not in enc.to_json()  # encodings without any read as they always did
    assert Encoding.from_json(enc.to_json()).links == []


@pytest.fixture(scope="module")
def plans_models():
    return fit_with_and_without_rules(plans_table(), **TRAIN)


def test_generated_rows_keep_every_link(plans_models, tmp_path):
    """Every generation path sets the category: `sample` and the tf.data stream; a null
    numeric value leaves the category as drawn; the evaluation report shows the plain
    model's rows breaking the link and the auto model's keeping it."""
    from vae_augment.api import sample
    from vae_augment.cli_evaluate import summary_line
    from vae_augment.evaluation import evaluate
    from vae_augment.tfdata import synthetic_dataset

    table, auto, plain = plans_models
    assert len(auto.encoding.links) == 3 and plain.encoding.links == []
    synth = sample(auto, {"a": 1000, "b": 1000}, seed=1)
    assert broken(synth) == 0 and broken(synth, "tier", "none", "extras") == 0
    assert broken(synth, "loan", "no", "amount", None) == 0
    assert broken(table) == 1
    # both sides are drawn, and the null rows keep the drawn category
    plan = np.asarray(synth.column("plan").to_pylist(), object)
    null = np.isnan(synth.column("messages").to_numpy(zero_copy_only=False).astype(float))
    assert 0.05 < (plan == "yes").mean() < 0.6 and null.any()
    assert set(synth.column("tier").to_pylist()) == {"none", "basic", "premium"}
    raw = sample(plain, {"a": 1000, "b": 1000}, seed=1)
    assert broken(raw) > 40  # independent heads: a share of the rows break it
    assert broken(raw, "loan", "no", "amount", None) > 40
    for batch in synthetic_dataset(auto, "b", batch_size=256, seed=3, n=512, null_masks=True):
        m = np.asarray(batch["messages"])
        no = np.asarray(batch["plan"]) == b"no"
        keep = ~np.asarray(batch["messages__is_null"])
        assert keep.any() and np.array_equal(m[keep] == 0, no[keep])
    for model, expect_broken in ((plain, True), (auto, False)):
        out = sample(model, {"b": 800}, seed=2)
        report = evaluate(table, out, label="label", sections=["fidelity"],
                          report_dir=tmp_path / str(expect_broken), progress=False)
        found = {e["category"]: e for e in report["fidelity"]["links"]}
        assert set(found) == {"plan", "tier", "loan"}
        assert found["plan"]["real_broken"] == 1
        assert (found["plan"]["broken"] > 0) is expect_broken
        page = (tmp_path / str(expect_broken) / "report.html").read_text()
        assert "Linked columns" in page and "<h2>Findings</h2>" in page
        flagged = [f for f in report["findings"] if "break the link plan" in f["message"]]
        assert bool(flagged) is expect_broken  # the findings name it too
        line = summary_line(report)  # the CLI's one-line summary names the worst one
        assert ("link_broken" in line) is expect_broken


def test_cli_fit_reports_links_and_sample_keeps_them(tmp_path, capsys):
    data = tmp_path / "plans.parquet"
    pq.write_table(plans_table(), data)
    args = ["--epochs", "3", "--batch-size", "64", "--latent-dim", "4", "--hidden", "16",
            "--quiet"]
    code, stdout, err = run_cli(["fit", data, "--label", "label", "--model-dir",
                                 tmp_path / "m", *args], capsys)
    assert code == 0, err
    assert "plan == 'no' <=> messages == 0" in json.loads(stdout)["links"]
    code, stdout, err = run_cli(["sample", "--model-dir", tmp_path / "m", "--n", "400",
                                 tmp_path / "s.parquet", "--quiet"], capsys)
    assert code == 0, err
    assert broken(pq.read_table(tmp_path / "s.parquet")) == 0
    code, stdout, err = run_cli(["info", "--model-dir", tmp_path / "m"], capsys)
    assert code == 0 and "links" in stdout


def test_fit_stats_job_finds_the_links_fit_would(tmp_path):
    from pipelines.fit_stats import run
    from vae_augment.constraints import resolve_rules
    from vae_augment.preparation import fit_encoding

    table = plans_table(n=2400, seed=5)
    d = tmp_path / "parts"
    d.mkdir()
    for i in range(4):
        pq.write_table(table.slice(i * 600, 600), d / f"part-{i}.parquet", row_group_size=150)
    out = tmp_path / "encoding.json"
    summary = run(["--input", str(d), "--label", "label", "--output", str(out)])
    one_pass = fit_encoding(str(d), "label")
    _, _, links, _ = resolve_rules("auto", str(d), one_pass)
    assert summary["links"] == [str(k) for k in links] and len(links) == 3
    assert json.loads(out.read_text())["links"] == json.loads(json.dumps(
        one_pass.with_relations([], ("auto",), [], links).to_json()))["links"]


def test_a_link_whose_other_side_is_mostly_null_rewrites_to_null(tmp_path):
    """Off the spike the category is 90 % null and 10 % 'coupon': a generated off-spike row
    that drew the link's value is set to null, the commonest value there, not to 'coupon'
    (session 30's audit: coupon rose from 10 % to 40 % of the off-spike rows)."""
    from vae_augment.api import fit, sample
    from vae_augment.artifact import load_artifact
    from vae_augment.constraints import resolve_rules
    from vae_augment.preparation import fit_encoding

    rng = np.random.default_rng(17)
    n = 2000
    disc = np.where(rng.random(n) < 0.5, 0, rng.integers(1, 40, n))
    kind = np.where(disc == 0, "none", np.where(rng.random(n) < 0.1, "coupon", None))
    table = pa.table({"y": ["a"] * 1500 + ["b"] * 500, "disc": disc,
                      "kind": pa.array(kind.tolist())})
    _, _, links, _ = resolve_rules("auto", table, fit_encoding(table, "y"))
    assert [(k.category, k.value, k.column, k.spike, k.other) for k in links] == \
        [("kind", "none", "disc", 0.0, None)]
    fit(table, label="y", model_dir=str(tmp_path / "m"), seed=0, **{**FAST, "epochs": 2})
    art = load_artifact(str(tmp_path / "m"))  # the null side survives the artifact's JSON
    assert art.encoding.links[0].other is None
    out = sample(art, {"a": 2000, "b": 2000}, seed=0)
    off = out.column("disc").to_numpy() != 0
    kinds = np.array(out.column("kind").to_pylist(), dtype=object)[off]
    assert not (kinds == "none").any()
    # 10 % in the real rows; a 2-epoch model draws 20 % itself, and with every rewritten
    # row set to 'coupon' it was 70 %
    assert np.mean(kinds == "coupon") < 0.35
