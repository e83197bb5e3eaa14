"""`benchmarks/utility.py --merge`: parts with other seeds add up, a re-run of the same
(method, seed) replaces, and the report says which environment the parts ran in."""

import json
import pathlib
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def utility():
    sys.path.insert(0, str(BENCH))
    try:
        import utility
        yield utility
    finally:
        sys.path.remove(str(BENCH))


def _part(path, seeds, f1, env):
    rows = [{"method": "vae", "clf": clf, "seed": s, "f1": f1 + s / 100, "ap": 0.5,
             "balance_seconds": 1.0} for s in seeds for clf in ("LR", "HGB")]
    part = {"results": {"churn": rows}, "seeds": seeds, "vae_kwargs": {}, "elapsed": 1.0,
            "command": f"part {path.name}"}
    if env is not None:
        part["environment"] = env
    path.write_text(json.dumps(part))
    return str(path)


def test_merge_adds_seeds_replaces_reruns_and_records_the_environment(utility, tmp_path):
    env = utility.environment()
    assert set(env) == {"cpu", "packages"} and env["packages"]["numpy"]
    a = _part(tmp_path / "a.json", [0, 1, 2], 0.40, env)
    b = _part(tmp_path / "b.json", [3, 4], 0.40, env)
    rerun = _part(tmp_path / "c.json", [2], 0.90, env)  # seed 2 again: replaces a's
    md = tmp_path / "r.md"
    assert utility.main(["--merge", ",".join([a, b, rerun]), "--md", str(md)]) == 0
    text = md.read_text()
    seeds = {0: 0.40, 1: 0.41, 2: 0.92, 3: 0.43, 4: 0.44}  # a's seeds 0-1, c's 2, b's 3-4
    mean = sum(seeds.values()) / len(seeds)
    assert f"| churn | n/a | n/a | n/a | {mean:.3f} ± " in text
    assert f"Environment: {env['cpu']}; tensorflow {env['packages']['tensorflow']}" in text
    # parts from another machine, or from before the record: the report says so
    other = _part(tmp_path / "d.json", [5], 0.40, {**env, "cpu": "another CPU"})
    old = _part(tmp_path / "e.json", [6], 0.40, None)
    assert utility.main(["--merge", ",".join([a, other, old]), "--md", str(md)]) == 0
    assert "Environment: mixed (some runs did not record theirs); tensorflow" in md.read_text()


def test_train_rows_keeps_each_class_in_proportion_and_at_least_two(utility):
    """`--train-rows N`: the rows every method fits on, a stratified subsample of the
    training split (the test split untouched), seeded by the split seed."""
    import numpy as np

    y = np.array(["a"] * 860 + ["b"] * 130 + ["c"] * 10)
    got = utility.stratified_rows(y, 100, seed=0)
    values, counts = np.unique(y[got], return_counts=True)
    assert dict(zip(values, counts)) == {"a": 86, "b": 13, "c": 2}  # c: 1 by share, 2 kept
    assert np.all(np.diff(got) > 0)
    assert np.array_equal(got, utility.stratified_rows(y, 100, seed=0))
    assert not np.array_equal(got, utility.stratified_rows(y, 100, seed=1))
    assert len(utility.stratified_rows(y, 5000, seed=0)) == 1000  # all of them


def test_score_keeps_each_class_f1(utility):
    """The JSON's rows keep each class's F1 beside the headline figure (minority F1 for two
    classes, macro F1 for more): a rare class's figure, not only the mean."""
    import numpy as np

    y = np.array(["a"] * 6 + ["b"] * 3 + ["c"])
    pred = np.array(["a"] * 5 + ["b"] * 4 + ["a"])
    proba = np.tile([0.5, 0.3, 0.2], (10, 1))
    got = utility.score(y, pred, proba, ["a", "b", "c"], "c", binary=False)
    assert got["f1_per_class"] == pytest.approx({"a": 10 / 12, "b": 6 / 7, "c": 0.0})
    assert got["f1"] == pytest.approx(np.mean(list(got["f1_per_class"].values())))
