"""Sampling with a near-copy filter: the `--privacy-min-distance` option.

Synthetic rows closer than `min_distance` to a real row of their class (distance as defined in
`vae_augment.privacy`) are dropped (`privacy.NearCopyIndex`, built once per class), and the
class is topped up with the passing rows of the following blocks of the same seeded block
sequence, so a class still gets exactly the rows it asked for. Every row of a block is checked
and its passing rows are taken in order, so block ``b`` of class ``c`` gives the rows it gives
without the filter: when nothing is dropped the output is byte-identical to an unfiltered run,
the first N rows of a larger request are a smaller request's, and with the same seed a
filtered run is reproducible. A class that cannot be filled within
``planned blocks + max_extra_blocks`` blocks fails with a `VAEAugmentError`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vae_augment.errors import VAEAugmentError, arg, option, warn

__all__ = ["DEFAULT_MAX_EXTRA_BLOCKS", "check_min_distance", "check_reference",
           "iter_counts_private", "class_rows"]

# Blocks tried beyond the unfiltered plan before giving up on a class (each block is
# `sampler.BLOCK_ROWS` candidate rows, so this bounds the work to a few extra blocks).
DEFAULT_MAX_EXTRA_BLOCKS = 8


def check_min_distance(value: Any, name: str = "privacy_min_distance") -> float:
    """Validates a minimum distance: a finite number >= 0 (returns it as float)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise VAEAugmentError(f"`{name}` must be a number >= 0, got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise VAEAugmentError(f"{arg(name)} must be a finite number >= 0, got {value!r}")
    return value


def check_reference(encoding, schema: pa.Schema) -> None:
    """A `SchemaError` unless a reference of `schema` has the label and the modelled
    columns of the data `encoding` was fitted on, with their types (it is compared with
    synthetic rows in the model's encoding)."""
    from vae_augment.errors import SchemaError
    from vae_augment.io import schema_difference

    columns = [s.name for s in encoding.specs if s.kind != "excluded"] + [encoding.label]
    # an image column stored as a variable-length list of the model's values is compared
    # as the model reads it (its rows' lengths are checked as they are read)
    problem = schema_difference(encoding.schema, encoding.as_trained(schema), columns)
    if problem is not None:
        raise SchemaError(f"{arg('reference')} does not match the schema the model was trained "
                          f"on: {problem}")


def _comparable_rows(encoding, rows: pa.Table, value) -> pa.Table:
    """`rows` (real rows of class `value`) the encoding can compare: a row holding a
    category the model never saw is left out, with a warning (no synthetic row can share
    that value). None left: a `VAEAugmentError`, as the filter would then check nothing."""

    from vae_augment.scoring import unseen_category_rows

    unseen = unseen_category_rows(encoding, rows)
    if unseen.any():
        warn(f"{int(unseen.sum())} reference rows of class {value!r} hold categories "
             f"the model never saw; the near-copy check leaves them out (no "
             f"synthetic row can hold those values)")
        rows = rows.filter(pa.array(~unseen))
    if rows.num_rows == 0:
        raise VAEAugmentError(
            f"{arg('reference')} has no rows of class {value!r} to compare its synthetic rows "
            f"with, so {option('privacy_min_distance')} would drop nothing: give the data the "
            f"model was trained on")
    return rows


_DISTANCES_KEPT = 65536  # draws whose distances a failed class's error summarises


def _distances_seen(drawn: list[np.ndarray]) -> str:
    """What a failed class's error adds: how far its first draws lay from the nearest real row
    of their class, so the user can pick a distance that keeps most of them (the scale is
    the encoding's, hard to guess: on digits a distance of 1 dropped every draw)."""
    d = np.concatenate(drawn) if drawn else np.zeros(0)
    d = d[np.isfinite(d)]
    if not len(d):
        return ""
    p05, p50 = np.quantile(d, [0.05, 0.5])
    return (f"; its first {len(d)} draws lay a median {p50:.3g} from the nearest real row of "
            f"their class, and a distance of {p05:.3g} would have kept about 95 % of them")


def _refit_hint(sampler) -> str:
    """For a model fitted with a KL weight under 1 (the defaults' 0.5 on tables of 2,000 rows
    or more), whose rows sit near their training rows: that refitting at 1 is what lets the
    filter keep its distance."""
    model = getattr(getattr(sampler, "artifact", None), "model", None)
    beta = getattr(model, "beta", None)
    if beta is None or beta >= 1:
        return ""
    return (f"; or refit with {option('beta', 1)}: at this model's KL weight {beta:g} its rows "
            f"sit near their training rows (bundled churn at the defaults' 0.5: 1.2 % of draws "
            f"lay beyond the distance 95 % of real-test rows keep from real-train; at 1 the "
            f"filter dropped 16 % of them)")


def class_rows(table: pa.Table, label: str, value: Any) -> pa.Table:
    """The rows of `table` whose `label` equals `value` (a class value of the encoding)."""
    col = table.column(label)
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    mask = pc.is_in(col, value_set=pa.array([value], type=col.type))
    return table.filter(mask)


def iter_counts_private(
    sampler,
    counts: Mapping[Any, int],
    seed: int,
    reference: pa.Table,
    min_distance: float,
    *,
    dropped: dict[Any, int] | None = None,
    max_extra_blocks: int = DEFAULT_MAX_EXTRA_BLOCKS,
    progress: bool | None = None,
) -> Iterator[pa.RecordBatch]:
    """Like `Sampler.iter_counts`, minus synthetic rows near a real row of their class.

    Args:
        sampler: a `vae_augment.sampler.Sampler`.
        counts: ``{class: rows}`` to generate (after filtering).
        seed: run seed (the same block seeds as `Sampler.iter_counts`).
        reference: the real rows (any classes; rows of other classes are ignored).
        min_distance: drop synthetic rows at distance <= this from a real row of their class.
        dropped: filled with ``{class: rows dropped}`` as the generator runs.
        max_extra_blocks: blocks tried per class beyond the unfiltered plan.
        progress: tqdm bar on stderr (None: only for large interactive runs).

    Raises:
        VAEAugmentError: a bad count, or a class that could not be filled.

    Example:
        >>> dropped = {}
        >>> batches = iter_counts_private(sampler, {"yes": 500}, 0, real, 0.05,
        ...                               dropped=dropped)  # doctest: +SKIP
    """
    from vae_augment.privacy import EXACT_TOLERANCE, NearCopyIndex
    from vae_augment.sampler import _progress, check_counts, plan_blocks

    min_distance = check_min_distance(min_distance)
    encoding = sampler.encoding
    check_counts(encoding, counts)
    check_reference(encoding, reference.schema)
    if dropped is None:
        dropped = {}
    bar = _progress(int(sum(counts.values())), progress)
    try:
        for c, n in counts.items():
            n = int(n)
            class_idx = encoding.class_index(c)
            value = encoding.classes[class_idx]
            dropped[value] = 0
            if n == 0:
                continue
            index = NearCopyIndex(encoding, _comparable_rows(
                encoding, class_rows(reference, encoding.label, value), value))
            limit = len(plan_blocks(n, sampler.block_rows)) + int(max_extra_blocks)
            kept = 0
            block = 0
            drawn: list[np.ndarray] = []  # the first draws' distances, for the error below
            while kept < n:
                if block >= limit:
                    raise VAEAugmentError(
                        f"{arg('privacy_min_distance')} {min_distance} dropped too many synthetic rows "
                        f"of class {value!r}: {kept} of {n} kept after {block} blocks "
                        f"({dropped[value]} dropped); lower {option('privacy_min_distance')}"
                        + _distances_seen(drawn) + _refit_hint(sampler))
                # the whole block is checked, its passing rows taken in order: with nothing
                # dropped, the rows an unfiltered run writes (a block's first rows)
                batch = sampler.generate_block(class_idx, seed, block)
                block += 1
                d = index.distances(batch)
                if sum(map(len, drawn)) < _DISTANCES_KEPT:
                    drawn.append(d)
                keep = d > max(min_distance, EXACT_TOLERANCE)
                passing = np.flatnonzero(keep)[:n - kept]
                # rows checked up to the last one taken, and dropped among them
                checked = int(passing[-1]) + 1 if len(passing) == n - kept else len(keep)
                dropped[value] += int((~keep[:checked]).sum())
                if len(passing) == 0:
                    continue
                table = pa.Table.from_batches([batch]).take(pa.array(passing))
                kept += table.num_rows
                bar.update(table.num_rows)
                yield from table.combine_chunks().to_batches()
    finally:
        bar.close()
