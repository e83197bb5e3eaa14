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
