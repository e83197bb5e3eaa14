"""sampling_strategy semantics match imbalanced-learn's over-samplers exactly."""

import numpy as np
import pytest
from imblearn.over_sampling import RandomOverSampler

from vae_augment.balancing import parse_sampling_strategy, samples_to_generate, target_counts
from vae_augment.errors import VAEAugmentError

COUNTS = {"a": 50, "b": 20, "c": 5}


def imblearn_counts(counts, strategy):
    y = np.repeat(list(counts), list(counts.values()))
    X = np.zeros((len(y), 1))
    _, y_res = RandomOverSampler(sampling_strategy=strategy, random_state=0).fit_resample(X, y)
    values, n = np.unique(y_res, return_counts=True)
    return dict(zip(values.tolist(), n.tolist()))


@pytest.mark.parametrize("strategy", ["auto", "minority", "not minority", "not majority", "all",
                                      {"b": 30, "c": 40}])
def test_matches_imblearn_multiclass(strategy):
    assert target_counts(COUNTS, strategy) == imblearn_counts(COUNTS, strategy)


@pytest.mark.parametrize("ratio", [0.5, 0.8, 1.0])
def test_float_binary(ratio):
    counts = {"no": 90, "yes": 10}
    assert target_counts(counts, ratio) == imblearn_counts(counts, ratio)


def test_callable():
    def strat(y):
        values, n = np.unique(y, return_counts=True)
        return {v: int(n.max()) for v in values}

    assert target_counts(COUNTS, strat) == {"a": 50, "b": 50, "c": 50}


def test_float_multiclass_rejected():
    with pytest.raises(VAEAugmentError, match="sampling_strategy"):
        samples_to_generate(COUNTS, 0.5)


def test_dict_below_current_rejected():
    with pytest.raises(VAEAugmentError, match="sampling_strategy"):
        samples_to_generate(COUNTS, {"a": 10})


@pytest.mark.parametrize("bad", [{"b": -1}, {"b": 2.5}, {"zzz": 3}])
def test_bad_dict_values(bad):
    with pytest.raises(VAEAugmentError, match="sampling_strategy"):
        samples_to_generate(COUNTS, bad)


def test_parse():
    assert parse_sampling_strategy("not majority") == "not majority"
    assert parse_sampling_strategy("0.5") == 0.5
    assert parse_sampling_strategy('{"1": 10}', classes=[0, 1]) == {1: 10}
    with pytest.raises(VAEAugmentError, match="`sampling_strategy`"):
        parse_sampling_strategy("most")
    with pytest.raises(VAEAugmentError, match="not valid JSON"):
        parse_sampling_strategy("{bad")


def test_a_json_file_is_a_strategy_in_any_shell(tmp_path, monkeypatch):
    """``--sampling-strategy PATH.json`` reads the strategy from the file (an evaluation
    report's sampling_strategy.json), so no shell's ``$(cat ...)`` is needed; the file's
    text follows the argument's rules, and a bad file is a one-line error naming it."""
    good = tmp_path / "my strategy.json"
    good.write_text('{"1": 10,\n "0": 4}\n')
    assert parse_sampling_strategy(str(good), classes=[0, 1]) == {1: 10, 0: 4}
    named = tmp_path / "name.json"
    named.write_text(" not minority\n")
    assert parse_sampling_strategy(str(named)) == "not minority"
    assert parse_sampling_strategy(str(tmp_path / "name.json")) == "not minority"
    (tmp_path / "bad.json").write_text('{"1": 10,,}')
    with pytest.raises(VAEAugmentError, match=r"\(in file '.*bad\.json'\) .* is not valid "
                                              r"JSON \(.*line 1 column 10\)"):
        parse_sampling_strategy(str(tmp_path / "bad.json"))
    with pytest.raises(VAEAugmentError, match=r"file '.*missing\.json' does not exist"):
        parse_sampling_strategy(str(tmp_path / "missing.json"))
    # a file naming a file is not followed
    (tmp_path / "chain.json").write_text(str(named))
    with pytest.raises(VAEAugmentError, match=r"\(in file '.*chain\.json'\) must be one of"):
        parse_sampling_strategy(str(tmp_path / "chain.json"))
    # a remote path (a Beam job's, beside its model) goes through Beam's file systems (a
    # stand-in for gs:// here); a scheme Beam has no file system for is a one-line error
    import io

    from apache_beam.io.filesystems import FileSystems

    store = {"gs://b/s.json": b'{"1": 12}'}
    monkeypatch.setattr(FileSystems, "exists", staticmethod(lambda p: p in store))
    monkeypatch.setattr(FileSystems, "open", staticmethod(lambda p: io.BytesIO(store[p])))
    assert parse_sampling_strategy("gs://b/s.json", classes=[0, 1]) == {1: 12}
    with pytest.raises(VAEAugmentError, match=r"file 'gs://b/t\.json' does not exist"):
        parse_sampling_strategy("gs://b/t.json")
    monkeypatch.undo()
    with pytest.raises(VAEAugmentError, match=r"file 'nofs://b/s\.json' cannot be read "
                                              r"\(Unable to get filesystem"):
        parse_sampling_strategy("nofs://b/s.json")
    # a file's classes are checked as the argument's are
    with pytest.raises(VAEAugmentError, match=r"names classes \['7'\] not in the data"):
        (tmp_path / "seven.json").write_text('{"7": 3}')
        parse_sampling_strategy(str(tmp_path / "seven.json"), classes=[0, 1])


def test_a_callable_sees_the_labels_in_their_own_dtype_as_in_imbalanced_learn():
    from imblearn.utils import check_sampling_strategy

    def up_to_max(y):  # an imbalanced-learn idiom: needs integer labels
        return {int(c): int(np.bincount(y).max()) for c in np.unique(y)}

    y = np.repeat([0, 1, 2], [178, 50, 8])
    want = check_sampling_strategy(up_to_max, y, "over-sampling")
    assert samples_to_generate({0: 178, 1: 50, 2: 8}, up_to_max) == dict(want)
    seen = []
    samples_to_generate({"no": 9, "yes": 3}, lambda y: seen.append(y.dtype.kind) or {"yes": 9})
    assert seen == ["U"]
    with pytest.raises(VAEAugmentError, match=r"callable returned classes \['zzz'\] not in the data"):
        samples_to_generate({"no": 9, "yes": 3}, lambda y: {"zzz": 9})
    with pytest.raises(VAEAugmentError, match=r"callable returned a list, not a dict"):
        samples_to_generate({"no": 9, "yes": 3}, lambda y: [9])
    # said once: "`sampling_strategy`: `sampling_strategy` callable returned ..." before
    with pytest.raises(VAEAugmentError, match=r"^`sampling_strategy` callable returned"):
        samples_to_generate({"no": 9, "yes": 3}, lambda y: [9])


@pytest.mark.parametrize("strategy", ["minority", "not minority", "not majority", "all"])
@pytest.mark.parametrize("counts", [{"b": 10, "a": 10, "c": 50}, {"c": 50, "b": 50, "a": 10},
                                    {2: 7, 0: 7, 1: 30}])
def test_ties_go_where_imbalanced_learn_puts_them(counts, strategy):
    """Counts in first-seen order (a Counter, a model's counts) broke ties by that order;
    imbalanced-learn counts in np.unique's order, so the smallest label wins a tie."""
    from vae_augment.tfdata import mixture_weights

    got = target_counts(counts, strategy)
    want = imblearn_counts(counts, strategy)
    assert got == want
    assert list(got) == list(counts)  # the caller's order kept
    _, _, target = mixture_weights(counts, strategy)  # tf.data's target mixture, same rule
    total = sum(want.values())
    assert target == pytest.approx({c: want[c] / total for c in counts})


@pytest.mark.parametrize("bad", [None, ("auto",), {"auto"}, b"auto", [0.5]])
def test_a_strategy_of_another_type_is_named_not_an_attribute_error(bad):
    """imbalanced-learn's check returns None for these, which failed later as
    "'NoneType' object has no attribute 'items'"."""
    with pytest.raises(VAEAugmentError, match=r"^`sampling_strategy` must be a name, a float, "
                                              r"a dict or a callable, got "):
        samples_to_generate(COUNTS, bad)


@pytest.mark.parametrize("result, shown", [({"c": 40.9}, "40.9"), ({"c": "40"}, "'40'"),
                                           ({"c": float("nan")}, "nan"),
                                           ({"c": float("inf")}, "inf"), ({"c": True}, "True")])
def test_a_callables_targets_are_checked_as_a_dicts_are(result, shown):
    """A fractional target was cut to an integer without a word; a string, NaN or inf failed
    with a TypeError / ValueError / OverflowError that named no strategy."""
    with pytest.raises(VAEAugmentError, match=r"^`sampling_strategy` callable's target for "
                                              rf"class 'c' must be a non-negative integer, got {shown}"):
        samples_to_generate(COUNTS, lambda y: result)
    assert samples_to_generate(COUNTS, lambda y: {"c": np.int64(40)})["c"] == 35


def test_a_target_past_int64_is_named():
    with pytest.raises(VAEAugmentError, match=r"^`sampling_strategy` target for class 'c' is "
                                              r"too large"):
        samples_to_generate(COUNTS, {"c": 2**63})
    with pytest.raises(VAEAugmentError, match=r"callable's target for class 'c' is too large"):
        samples_to_generate(COUNTS, lambda y: {"c": 2**64})


def test_a_class_named_twice_is_refused():
    """JSON keeps the last of two equal keys, so '{"true": 100, "True": 30}' balanced True to
    30 rows and dropped the 100 without a word."""
    with pytest.raises(VAEAugmentError, match=r"names class '1' twice"):
        parse_sampling_strategy('{"1": 100, "1": 20}', classes=[0, 1])
    with pytest.raises(VAEAugmentError, match=r"names class True twice \(as 'True' and another"):
        parse_sampling_strategy('{"true": 100, "True": 30}', classes=[False, True])
    with pytest.raises(VAEAugmentError, match=r"names class 1 twice"):
        samples_to_generate({0: 60, 1: 10}, {1: 30, "1": 40})


def test_a_dicts_keys_follow_one_rule_in_every_interface():
    """`{"1": n}` for the integer class 1 was refused by `balance` and taken by Beam's
    `BalanceClasses` and tf.data; now all take it, as the CLI's JSON gives it. A bool is
    still not the class 1."""
    assert samples_to_generate({0: 60, 1: 10}, {"1": 30}) == {0: 0, 1: 20}
    assert samples_to_generate({False: 60, True: 10}, {"true": 30}) == {False: 0, True: 20}
    with pytest.raises(VAEAugmentError, match=r"names classes \[True\] not in the data"):
        samples_to_generate({0: 60, 1: 10}, {True: 30})


def test_the_python_api_maps_a_dicts_keys_as_beam_does(mixed_artifact, mixed_table, tmp_path):
    from vae_augment.api import balance, load_artifact

    art = load_artifact(str(mixed_artifact))
    y = mixed_table.column("label").to_pylist()
    small = min(set(y), key=y.count)
    out = tmp_path / "out.parquet"
    summary = balance(mixed_table, str(out), label="label", model=art, seed=0,
                      sampling_strategy={small.encode(): y.count(small) + 7})
    assert summary["counts_after"][small] == y.count(small) + 7
    with pytest.raises(VAEAugmentError, match=r"^`sampling_strategy` must be a name, a float, "
                                              r"a dict or a callable, got NoneType"):
        balance(mixed_table, str(tmp_path / "o2.parquet"), label="label", model=art,
                sampling_strategy=None)
    assert not (tmp_path / "o2.parquet").exists()


def test_the_largest_int64_target_is_taken():
    """`_check_target`'s limit is inclusive: 2**63 - 1 fits in int64, 2**63 does not."""
    top = 2**63 - 1
    assert samples_to_generate(COUNTS, {"c": top}) == {"a": 0, "b": 0, "c": top - 5}


def test_a_class_count_must_be_a_non_negative_integer():
    for bad, shown in ((-1, "-1"), (2.5, "2.5"), ("7", "'7'")):
        with pytest.raises(VAEAugmentError, match=rf"^class count for 'b' must be a "
                                                  rf"non-negative integer, got {shown}$"):
            samples_to_generate({"a": 50, "b": bad, "c": 5}, "auto")


def test_a_class_counted_zero_is_left_untouched():
    """A class of no real rows (one the model knows, say) is no error: imbalanced-learn does
    not see it, so it gets no rows, and the others are balanced as without it."""
    assert samples_to_generate({"a": 10, "b": 0, "c": 3}, "auto") == {"a": 0, "b": 0, "c": 7}
    assert np.int64(0) == samples_to_generate({"a": 10, "b": np.int64(0), "c": 3}, "all")["b"]


def test_the_form_of_a_strategy_is_checked_against_the_models_classes():
    """`check_strategy_form`, before any count is known: the names, a float in (0, 1], a
    dict of non-negative integer targets (0 too: the counts decide) for known classes, a
    callable; anything else is refused naming the argument."""
    from types import SimpleNamespace

    from vae_augment.balancing import check_strategy_form

    enc = SimpleNamespace(classes=[0, 1, "x"])
    for name in ("auto", "minority", "not minority", "not majority", "all"):
        assert check_strategy_form(name, enc) == name
    with pytest.raises(VAEAugmentError, match=r"^`sampling_strategy` must be one of \['auto'"):
        check_strategy_form("most", enc)
    for ratio in (1.0, 0.5, 1e-9):
        assert check_strategy_form(ratio, enc) == ratio
    for ratio in (0.0, 1.0000001, -0.5, 2):
        with pytest.raises(VAEAugmentError, match=r"^`sampling_strategy` as a float must be a "
                                                  r"ratio in \(0, 1\], got "):
            check_strategy_form(ratio, enc)
    with pytest.raises(VAEAugmentError, match=r"must be a finite ratio in \(0, 1\], got inf"):
        check_strategy_form(float("inf"), enc)
    assert check_strategy_form({"1": 0, "x": 30}, enc) == {1: 0, "x": 30}
    with pytest.raises(VAEAugmentError, match=r"target for class 1 must be a non-negative "
                                              r"integer, got -1"):
        check_strategy_form({1: -1}, enc)
    with pytest.raises(VAEAugmentError, match=r"names class 'y', which the model does not know"):
        check_strategy_form({"y": 3}, enc)
    f = lambda y: {}  # noqa: E731
    assert check_strategy_form(f, enc) is f
    for bad in (None, True, [0.5]):
        with pytest.raises(VAEAugmentError, match=r"^`sampling_strategy` must be a name, a "
                                                  r"float, a dict or a callable, got "):
            check_strategy_form(bad, enc)


def test_invalid_json_is_shown_whole_up_to_200_characters():
    text = '{"a": ' + "1" * 194  # 200 characters, not valid JSON
    with pytest.raises(VAEAugmentError) as exc:
        parse_sampling_strategy(text)
    assert repr(text) in str(exc.value) and "..." not in str(exc.value)
    with pytest.raises(VAEAugmentError) as exc:
        parse_sampling_strategy(text + "1")
    assert repr(text + "...") in str(exc.value)


def test_a_strategy_file_need_not_end_in_json(tmp_path):
    """Any existing file is read (a ``.json`` name is only needed for the "does not exist"
    message): a shell's process substitution gives /dev/fd/63, a user a .txt file."""
    path = tmp_path / "strategy.txt"
    path.write_text('{"1": 10}')
    assert parse_sampling_strategy(str(path), classes=[0, 1]) == {1: 10}


def test_an_unknown_strategy_is_shown_up_to_200_characters():
    with pytest.raises(VAEAugmentError) as exc:
        parse_sampling_strategy("m" * 300)
    assert str(exc.value).endswith(f"got {'m' * 200!r}")


def test_one_class_is_refused_in_our_words():
    with pytest.raises(VAEAugmentError, match=r"^need at least 2 classes to balance, got \['a'\]$"):
        samples_to_generate({"a": 5}, "auto")


def test_rows_of_one_class_are_refused_in_our_words():
    """Counts of two classes with rows of one (a model's class absent from the data) were
    refused in imbalanced-learn's words, blamed on the strategy: "`sampling_strategy`: The
    target 'y' needs to have more than 1 class"."""
    for strategy in ("auto", {"b": 50}, 0.5):
        with pytest.raises(VAEAugmentError, match=r"^need rows of at least 2 classes to "
                                                  r"balance, got rows of 'a' only \(none of "
                                                  r"\['b'\]\)$"):
            samples_to_generate({"a": 100, "b": 0}, strategy)
    with pytest.raises(VAEAugmentError, match=r"got no rows \(none of \['a', 'b'\]\)$"):
        samples_to_generate({"a": 0, "b": 0}, "auto")
    assert samples_to_generate({"a": 100, "b": 0, "c": 5}, "auto") == {"a": 0, "b": 0, "c": 95}


def test_an_unknown_name_is_refused_in_our_words():
    with pytest.raises(VAEAugmentError, match=r"^`sampling_strategy` must be one of \['auto', "
                                              r"'minority', .*; got 'most'$"):
        samples_to_generate(COUNTS, "most")


@pytest.mark.parametrize("ratio", [float("nan"), float("inf")])
def test_a_ratio_that_is_not_finite_is_refused_in_our_words(ratio):
    with pytest.raises(VAEAugmentError, match=r"^`sampling_strategy` as a float must be a "
                                              rf"finite ratio in \(0, 1\], got {ratio}$"):
        samples_to_generate({"no": 90, "yes": 10}, ratio)
