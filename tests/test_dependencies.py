"""Dependent categories (`vae_augment.constraints.Dependency`): a categorical column that is a
function of another (a region of its state), found by ``constraints="auto"``, stored with the
encoding, kept in every generated row, and checked by the evaluation report."""

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from .conftest import FAST, fit_with_and_without_rules, merged_and_one_pass, run_cli

TRAIN = {**FAST, "epochs": 6, "patience": 6, "hidden": (32,)}
STATES = [f"s{i:02d}" for i in range(12)]
REGION = {s: ["north", "south", "east", "west"][i % 4] for i, s in enumerate(STATES)}


def regions_table(n: int = 2000, seed: int = 0, noise: float = 0.0) -> pa.Table:
    """``region`` is a function of ``state`` (12 states, 4 regions); ``code`` and ``name``
    determine each other (6 values); ``color`` is unrelated; ``x`` a number. `noise`: the
    share of rows whose region is another one (breaking the dependency)."""
    rng = np.random.default_rng(seed)
    label = np.where(rng.random(n) < 0.7, "a", "b")
    state = rng.choice(STATES, n)
    region = np.array([REGION[s] for s in state], object)
    flip = rng.random(n) < noise
    region[flip] = rng.choice(["north", "south", "east", "west"], int(flip.sum()))
    code = rng.integers(0, 6, n)
    return pa.table({
        "state": state,
        "x": np.round(rng.normal(np.where(label == "a", 0, 1), 1, n), 2),
        "region": region.astype(str),
        "code": [f"c{k}" for k in code],
        "name": [f"name-{k}" for k in code],
        "color": rng.choice(["red", "green", "blue"], n),
        "label": label,
    })


def broken(table: pa.Table) -> int:
    state = table.column("state").to_pylist()
    region = table.column("region").to_pylist()
    return sum(REGION[s] != r for s, r in zip(state, region))


def test_discovery_finds_the_dependencies_and_only_them():
    from vae_augment.constraints import Dependency, resolve_rules
    from vae_augment.preparation import fit_encoding

    table = regions_table()
    enc = fit_encoding(table, "label")
    deps = resolve_rules("auto", table, enc).dependencies
    # code and name determine each other: the earlier column is the determinant
    assert sorted(map(str, deps)) == ["name = f(code)", "region = f(state)"]
    region = next(d for d in deps if d.column == "region")
    assert dict(region.mapping) == REGION
    assert resolve_rules("none", table, enc).dependencies == []
    merged, one = merged_and_one_pass(table, enc)  # merged partial counts == one pass
    assert all(np.array_equal(merged.links.pairs[k], one.links.pairs[k]) for k in one.links.pairs)
    vocabs = {s.name: s.vocab for s in enc.categorical}
    assert merged.links.dependencies(vocabs) == deps
    # broken in 1 % of the rows, or states seen in a few rows each: not trusted
    noisy = regions_table(noise=0.01)
    assert [str(d) for d in resolve_rules("auto", noisy, fit_encoding(noisy, "label"))
            .dependencies] == ["name = f(code)"]
    small = table.slice(0, 40)  # 12 states in 40 rows: most under 5 rows
    assert "region = f(state)" not in map(
        str, resolve_rules("auto", small, fit_encoding(small, "label")).dependencies)
    few = table.slice(0, 90)  # under 100 rows: not even code and name
    assert resolve_rules("auto", few, fit_encoding(few, "label")).dependencies == []
    assert str(Dependency("b", "a", (("x", "y"),))) == "b = f(a)"
    # a table of categories alone is searched too
    cats = table.drop_columns(["x"])
    assert sorted(map(str, resolve_rules("auto", cats, fit_encoding(cats, "label"))
                      .dependencies)) == ["name = f(code)", "region = f(state)"]


def test_dependencies_travel_with_the_encoding_json():
    from vae_augment.constraints import Dependency
    from vae_augment.encoding import Encoding
    from vae_augment.preparation import fit_encoding

    enc = fit_encoding(regions_table(), "label")
    d = Dependency("region", "state", tuple(REGION.items()))
    back = Encoding.from_json(json.loads(json.dumps(
        enc.with_relations([], ("auto",), dependencies=[d]).to_json())))
    assert back.dependencies == [d] and dict(back.dependencies[0].mapping) == REGION
    assert "dependencies" not in enc.to_json()  # encodings without any read as before
    assert Encoding.from_json(enc.to_json()).dependencies == []


@pytest.fixture(scope="module")
def region_models():
    return fit_with_and_without_rules(regions_table(), **TRAIN)


def test_generated_rows_keep_every_dependency(region_models, tmp_path):
    from vae_augment.api import sample
    from vae_augment.cli_evaluate import summary_line
    from vae_augment.evaluation import evaluate
    from vae_augment.tfdata import synthetic_dataset

    table, auto, plain = region_models
    assert len(auto.encoding.dependencies) == 2 and plain.encoding.dependencies == []
    synth = sample(auto, {"a": 1000, "b": 1000}, seed=1)
    assert broken(synth) == 0 and broken(table) == 0
    assert len(set(synth.column("state").to_pylist())) == 12  # the determinant as drawn
    code, name = synth.column("code").to_pylist(), synth.column("name").to_pylist()
    assert all(n == f"name-{c[1:]}" for c, n in zip(code, name))
    raw = sample(plain, {"a": 1000, "b": 1000}, seed=1)
    assert broken(raw) > 200  # independent heads: most rows off the map
    for batch in synthetic_dataset(auto, "b", batch_size=256, seed=3, n=512):
        states = [s.decode() for s in np.asarray(batch["state"])]
        regions = [r.decode() for r in np.asarray(batch["region"])]
        assert all(REGION[s] == r for s, r in zip(states, regions))
    for model, expect_broken in ((plain, True), (auto, False)):
        out = sample(model, {"b": 800}, seed=2)
        report = evaluate(table, out, label="label", sections=["fidelity"],
                          report_dir=tmp_path / str(expect_broken), progress=False)
        found = {e["column"]: e for e in report["fidelity"]["dependencies"]}
        assert set(found) == {"region", "name"} and found["region"]["real_broken"] == 0
        assert (found["region"]["broken"] > 0) is expect_broken
        page = (tmp_path / str(expect_broken) / "report.html").read_text()
        assert "Dependent categories" in page
        assert ("dependency_broken" in summary_line(report)) is expect_broken
        flagged = [f for f in report["findings"] if "region = f(state)" in f["message"]]
        assert bool(flagged) is expect_broken


def test_cli_and_fit_stats_find_the_dependencies(tmp_path, capsys):
    from pipelines.fit_stats import run
    from vae_augment.constraints import resolve_rules
    from vae_augment.preparation import fit_encoding

    table = regions_table(n=2400, seed=5)
    d = tmp_path / "parts"
    d.mkdir()
    for i in range(4):
        pq.write_table(table.slice(i * 600, 600), d / f"part-{i}.parquet", row_group_size=150)
    summary = run(["--input", str(d), "--label", "label", "--output", str(tmp_path / "e.json")])
    deps = resolve_rules("auto", str(d), fit_encoding(str(d), "label")).dependencies
    assert summary["dependencies"] == [str(x) for x in deps] and len(deps) == 2
    c = tmp_path / "cats"  # no numeric column: the job still searches the categories
    c.mkdir()
    pq.write_table(table.drop_columns(["x"]), c / "part-0.parquet", row_group_size=300)
    summary = run(["--input", str(c), "--label", "label", "--output", str(tmp_path / "c.json")])
    assert summary["dependencies"] == [str(x) for x in deps]
    code, stdout, err = run_cli(["fit", d, "--label", "label", "--model-dir", tmp_path / "m",
                                 "--epochs", "2", "--hidden", "16", "--latent-dim", "4",
                                 "--guide-iterations", "2", "--quiet"], capsys)
    assert code == 0, err
    assert "region = f(state)" in json.loads(stdout)["dependencies"]
    code, stdout, err = run_cli(["sample", "--model-dir", tmp_path / "m", "--n", "300",
                                 tmp_path / "s.parquet", "--quiet"], capsys)
    assert code == 0, err
    assert broken(pq.read_table(tmp_path / "s.parquet")) == 0
