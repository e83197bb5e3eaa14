"""Sampling with a near-copy filter: the `--privacy-min-distance` option.

Synthetic rows closer than `min_distance` to a real row of their class (distance as defined in
`vae_augment.privacy`) are dropped with `privacy.filter_near_copies`, and the class is topped up
with rows from the following blocks of the same seeded block sequence, so a class still gets
exactly the rows it asked for. Block ``b`` of class ``c`` is the same rows as without the
filter: when nothing is dropped the output is byte-identical to an unfiltered run, and with the
same seed a filtered run is reproducible. A class that cannot be filled within
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

from vae_augment.errors import VAEAugmentError, arg, option

__all__ = ["DEFAULT_MAX_EXTRA_BLOCKS", "check_min_distance", "iter_counts_private", "class_rows"]

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
    from vae_augment.privacy import filter_near_copies
    from vae_augment.sampler import _progress, plan_blocks

    min_distance = check_min_distance(min_distance)
    encoding = sampler.encoding
    for c, n in counts.items():
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
            raise VAEAugmentError(
                f"requested count for class {c!r} must be a non-negative integer, got {n!r}"
            )
        encoding.class_index(c)
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
            ref = class_rows(reference, encoding.label, value)
            limit = len(plan_blocks(n, sampler.block_rows)) + int(max_extra_blocks)
            kept = 0
            block = 0
            while kept < n:
                if block >= limit:
                    raise VAEAugmentError(
                        f"{arg('privacy_min_distance')} {min_distance} dropped too many synthetic rows "
                        f"of class {value!r}: {kept} of {n} kept after {block} blocks "
                        f"({dropped[value]} dropped); lower {option('privacy_min_distance')}"
                    )
                rows = min(sampler.block_rows, n - kept)
                batch = sampler.generate_block(class_idx, seed, block, rows)
                block += 1
                table, n_drop = filter_near_copies(
                    encoding, ref, pa.Table.from_batches([batch]), min_distance
                )
                dropped[value] += n_drop
                if table.num_rows == 0:
                    continue
                kept += table.num_rows
                bar.update(table.num_rows)
                yield from table.combine_chunks().to_batches()
    finally:
        bar.close()
