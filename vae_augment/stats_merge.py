"""Merging `SchemaStats` computed on separate parts of the data (Beam's combine, shards).

`merge_stats(a, b)` gives the statistics one sequential pass over both parts would give:
row, null, category and label counts add up; tensor minima, maxima and sums combine; numeric
reservoirs merge into a uniform sample of the union (exactly the union while the total fits in
the reservoir, so quantile knots are then identical to the sequential pass).
`encoding_from_stats` turns the merged statistics into the `Encoding` `fit_encoding` returns.

Example:
    >>> a, b = SchemaStats(schema, "y"), SchemaStats(schema, "y")   # doctest: +SKIP
    >>> a.update(part1); b.update(part2)                            # doctest: +SKIP
    >>> encoding = encoding_from_stats(merge_stats(a, b))           # doctest: +SKIP
"""

from __future__ import annotations

import copy
import math

import numpy as np

from vae_augment.encoding import Encoding
from vae_augment.errors import SchemaError, option
from vae_augment.schema import (
    _RESERVOIR,
    DEFAULT_INT_CATEGORICAL_MAX,
    MAX_BINOMIAL_COUNT,
    SchemaStats,
    dictionary_order,
    extend_order,
)

__all__ = ["merge_stats", "encoding_from_stats"]


def _merge_reservoir(a, b) -> None:
    """Merges `b`'s reservoir into `a` (each a uniform sample of what it has seen)."""
    total = a.seen + b.seen
    if len(a.sample) + len(b.sample) <= _RESERVOIR:
        a.sample = np.concatenate([a.sample, b.sample])
    else:
        rng = np.random.default_rng([a.seen, b.seen, len(a.sample), len(b.sample)])
        # how many of the merged sample come from a's part: hypergeometric over what each saw
        k = int(rng.hypergeometric(a.seen, b.seen, _RESERVOIR))
        k = min(k, len(a.sample))
        k = max(k, _RESERVOIR - len(b.sample))
        take_a = rng.choice(len(a.sample), k, replace=False)
        take_b = rng.choice(len(b.sample), _RESERVOIR - k, replace=False)
        a.sample = np.concatenate([a.sample[take_a], b.sample[take_b]])
    a.seen = total


def _merge_list_size(a, b) -> None:
    """A variable-length list tensor's size: the part that saw a row gives it; two parts
    whose rows hold different lengths are an error (each part checked its own rows)."""
    size_a, size_b = getattr(a, "list_size", None), getattr(b, "list_size", None)
    if size_b is None:
        return
    if size_a is None:
        a.list_size, a.size_source = size_b, b.size_source
    elif size_a != size_b:
        raise SchemaError(
            f"column '{a.field.name}' is a variable-length list modelled as a tensor of one "
            f"size, and some rows hold {size_a} values ({a.size_source} in one part of the "
            f"input), others {size_b} ({b.size_source} in another): every row must hold "
            f"the same number of values; fix those rows, give the column `image_shape` field "
            f"metadata, or exclude it with {option('exclude', a.field.name, many=True)}")


def _merge_column(a, b) -> None:
    a.rows += b.rows
    a.nulls += b.nulls
    for v, c in b.class_nulls.items():
        a.class_nulls[v] = a.class_nulls.get(v, 0) + c
    if a.kind == "tensor":
        _merge_list_size(a, b)
        a.low, a.high = min(a.low, b.low), max(a.high, b.high)
        if not a.value_is_int:  # the grid of both parts (None: either has none)
            steps_a, steps_b = getattr(a, "steps", None), getattr(b, "steps", None)
            both = None if steps_a is None or steps_b is None else math.lcm(steps_a, steps_b)
            a.steps = both if both is not None and both <= MAX_BINOMIAL_COUNT else None
        if b.sum is not None:
            a.sum = b.sum.copy() if a.sum is None else a.sum + b.sum
            a.sumsq = b.sumsq.copy() if a.sumsq is None else a.sumsq + b.sumsq
        return
    if a.kind == "numeric":  # float columns: counted while they hold a few whole numbers
        if a.counts is None or b.counts is None:
            a.counts = None
        else:
            for v, c in b.counts.items():
                a.counts[v] = a.counts.get(v, 0) + c
            if len(a.counts) > DEFAULT_INT_CATEGORICAL_MAX:
                a.counts = None
    if getattr(b, "dictionary", None) is None:
        a.dictionary = None
    else:
        a.note_dictionary(b.dictionary)  # a's order first, then b's new values
    if a.kind in ("categorical", "int"):
        a.too_many = a.too_many or b.too_many
        if a.counts is None or b.counts is None:
            a.counts = None
        elif not a.too_many:
            for v, c in b.counts.items():
                a.counts[v] = a.counts.get(v, 0) + c
            if len(a.counts) > a.max_categories:
                a.too_many = True
        if a.kind == "int" and a.too_many:
            a.counts = None
        if a.kind == "int":
            a.widen_int_range(b.int_low, b.int_high)
            a.merge_grid(b.unit, b.anchor)  # time columns
    if a.numeric is not None:
        _merge_reservoir(a.numeric, b.numeric)


def merge_stats(a: SchemaStats, b: SchemaStats, *, inplace: bool = False) -> SchemaStats:
    """Statistics of the union of the data `a` and `b` saw (`a` is copied unless `inplace`)."""
    if list(a.columns) != list(b.columns) or a.label != b.label:
        raise ValueError("`merge_stats` needs statistics of the same schema and label")
    out = a if inplace else copy.deepcopy(a)
    out.rows += b.rows
    out.label_nulls += b.label_nulls
    for v, c in b.label_counts.items():
        out.label_counts[v] = out.label_counts.get(v, 0) + c
    out.label_dictionary = (None if getattr(b, "label_dictionary", None) is None else
                            extend_order(out.label_dictionary, b.label_dictionary))
    for name, col in out.columns.items():
        _merge_column(col, b.columns[name])
    return out


def encoding_from_stats(stats: SchemaStats) -> Encoding:
    """The `Encoding` of finalised statistics (what `fit_encoding` returns)."""
    specs = stats.finalize()
    classes = sorted(stats.label_counts, key=lambda v: (str(type(v)), v))
    class_nulls = {
        s.name: [int(stats.columns[s.name].class_nulls.get(c, 0)) for c in classes]
        for s in specs if s.kind in ("numeric", "categorical", "tensor")
        and stats.columns[s.name].class_nulls}
    # a variable-length list tensor is recorded as the fixed-size list it is trained as, and
    # its input type as what `sample` writes
    lists = {n: stats.schema.field(n).type for n in stats.list_sizes()}
    # a string_view (binary_view) column is read as large_string (large_binary), and written
    # back as the view
    lists.update(getattr(stats, "views", {}))
    return Encoding(specs, stats.label, classes, stats.label_counts, stats.trained_schema(),
                    class_nulls=class_nulls, input_lists=lists,
                    label_dictionary=dictionary_order(
                        getattr(stats, "label_dictionary", None), classes))
