"""Inequalities between numeric columns ("Amount <= Price"): found in the training rows or
given by the user, kept with the encoding, and enforced when rows are generated.

The likelihood heads draw each numeric column independently given the latent code, so a
hard edge of the joint distribution is blurred even when both marginals are right: on
credit.parquet a loan never exceeds the price of what it buys (``Amount <= Price`` in all
4,454 rows), yet about 16 % of the synthetic rows broke it before this module existed
(benchmarks/results/quality.md, session 17).

`constrained_generate` redraws the rows that break a relation (up to `REDRAW_ROUNDS` more
draws each, the model's own selection included), and `Encoding.decode_tf` repairs any row
still breaking one by lowering the left-hand value to the right-hand one, so the output
always satisfies every relation of its encoding. A relation says nothing about a row where
either value is null.

Example:
    >>> from vae_augment import fit
    >>> art = fit("credit.parquet", label="Status", constraints="auto")  # doctest: +SKIP
    >>> [str(r) for r in art.encoding.relations]                           # doctest: +SKIP
    ['Amount <= Price']
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from vae_augment.errors import SchemaError, VAEAugmentError

__all__ = [
    "Relation", "parse_relation", "RelationStats", "discover_relations", "resolve_constraints",
    "constrained_generate", "relation_report", "REDRAW_ROUNDS", "MAX_RELATION_COLUMNS",
]

#: more draws a row that breaks a relation gets before `Encoding.decode_tf` repairs it
REDRAW_ROUNDS = 8
#: discovery looks at most at this many numeric columns (its cost grows with their square)
MAX_RELATION_COLUMNS = 64
# the redraws' seed stream, apart from the guide's ``fold_in(seed, r)`` for small r
_REDRAW_STREAM = 0x5EED0000

_RELATION = re.compile(r"^\s*(.+?)\s*(<=|>=)\s*(.+?)\s*$")


@dataclasses.dataclass(frozen=True)
class Relation:
    """``left <= right`` between two numeric columns, in every row where neither is null."""

    left: str
    right: str

    def __str__(self) -> str:
        return f"{self.left} <= {self.right}"


def parse_relation(text: str | Relation) -> Relation:
    """``"A <= B"`` or ``"B >= A"`` (column names as written, spaces around them ignored)."""
    if isinstance(text, Relation):
        return text
    m = _RELATION.match(str(text)) if isinstance(text, str) else None
    if not m or "<" in m.group(1) + m.group(3) or ">" in m.group(1) + m.group(3):
        raise VAEAugmentError(
            f"constraint {text!r} must read 'A <= B' or 'A >= B' with two numeric column "
            "names, or be 'auto'")
    a, op, b = m.groups()
    if a == b:
        raise VAEAugmentError(f"constraint {text!r} compares column '{a}' with itself")
    return Relation(a, b) if op == "<=" else Relation(b, a)


def _numeric_matrix(batch, names: Sequence[str]) -> np.ndarray:
    """float64 [rows, len(names)] of `batch`'s columns, NaN where null."""
    cols = []
    for name in names:
        col = batch.column(name)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        cols.append(np.asarray(col.cast(pa.float64()).to_numpy(zero_copy_only=False),
                               np.float64))
    return np.stack(cols, axis=1) if cols else np.zeros((batch.num_rows, 0))


class RelationStats:
    """Streaming statistics for `discover_relations`: per ordered pair of columns (a, b), the
    largest ``a - b`` over the rows where both are present and how many such rows there
    were; per column its smallest and largest value. Mergeable (`merge`), so a distributed
    pass can combine partial results."""

    def __init__(self, names: Sequence[str]):
        self.names = list(names)
        n = len(self.names)
        self.max_diff = np.full((n, n), -np.inf)
        self.both = np.zeros((n, n), np.int64)
        self.low = np.full(n, np.inf)
        self.high = np.full(n, -np.inf)

    def update(self, batch) -> None:
        x = _numeric_matrix(batch, self.names)
        if not len(x):
            return
        present = ~np.isnan(x)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-null columns
            self.low = np.fmin(self.low, np.nanmin(x, axis=0))
            self.high = np.fmax(self.high, np.nanmax(x, axis=0))
        filled = np.where(present, x, 0.0)
        pf = present.astype(np.float64)
        self.both += (pf.T @ pf).astype(np.int64)
        for i in range(x.shape[1]):
            d = np.where(present[:, [i]] & present, filled[:, [i]] - filled, -np.inf)
            self.max_diff[i] = np.maximum(self.max_diff[i], d.max(axis=0))

    def merge(self, other: RelationStats) -> RelationStats:
        if other.names != self.names:
            raise ValueError("RelationStats over different columns cannot be merged")
        self.max_diff = np.maximum(self.max_diff, other.max_diff)
        self.both += other.both
        self.low = np.fmin(self.low, other.low)
        self.high = np.fmax(self.high, other.high)
        return self

    def relations(self) -> list[Relation]:
        """Each ``a <= b`` that held in every row with both values, seen together in at least
        one row, and not already implied by the columns' ranges (max a <= min b, which
        generated values, kept inside the observed ranges, cannot break)."""
        out = []
        for i, a in enumerate(self.names):
            for j, b in enumerate(self.names):
                if (i != j and self.both[i, j] > 0 and self.max_diff[i, j] <= 0.0
                        and self.high[i] > self.low[j]):
                    out.append(Relation(a, b))
        return out


def discover_relations(inputs, encoding) -> list[Relation]:
    """The relations between `encoding`'s numeric columns that hold in every row of `inputs`
    (a table, or Parquet paths read batch by batch): one streaming pass."""
    from vae_augment.io import iter_batches, resolve_inputs

    names = [s.name for s in encoding.numeric]
    if len(names) > MAX_RELATION_COLUMNS:
        warnings.warn(
            f"constraints='auto' looks for relations among the first {MAX_RELATION_COLUMNS} of "
            f"{len(names)} numeric columns; name the others' constraints explicitly",
            stacklevel=3)
        names = names[:MAX_RELATION_COLUMNS]
    stats = RelationStats(names)
    if isinstance(inputs, (pa.Table, pa.RecordBatch)):
        batches: Iterable = (inputs.to_batches() if isinstance(inputs, pa.Table) else [inputs])
    else:
        batches = iter_batches(resolve_inputs(inputs), columns=names) if names else []
    for batch in batches:
        stats.update(batch)
    return stats.relations()


def resolve_constraints(constraints, inputs, encoding) -> list[Relation]:
    """`fit`'s ``constraints`` as relations: None or () for none; ``"auto"`` for every
    relation `discover_relations` finds; or a list of ``"A <= B"`` strings (or `Relation`s),
    which may include ``"auto"``. Checks that every named column is a numeric column."""
    if constraints is None:
        return []
    items = [constraints] if isinstance(constraints, (str, Relation)) else list(constraints)
    out: list[Relation] = []
    for item in items:
        if isinstance(item, str) and item.strip().lower() == "auto":
            out.extend(discover_relations(inputs, encoding))
        else:
            out.append(parse_relation(item))
    numeric = [s.name for s in encoding.numeric]
    kinds = {s.name: s.kind for s in encoding.specs}
    for r in out:
        for name in (r.left, r.right):
            if name not in numeric:
                what = ("the label" if name == encoding.label else
                        f"a {kinds[name]} column" if name in kinds else "not a column")
                raise SchemaError(
                    f"constraint '{r}': '{name}' is {what}; constraints compare numeric "
                    f"columns: {numeric}")
    return list(dict.fromkeys(out))


def constrained_generate(model, encoding, y, seed) -> dict[str, Any]:
    """`model.generate(y, seed)`, with each row that breaks one of `encoding.relations`
    redrawn, up to `REDRAW_ROUNDS` times (TF ops only; a `tf.while_loop` that stops once
    every row holds). Round r draws the pending rows with seed ``fold_in(seed, STREAM + r)``;
    rows still breaking a relation afterwards are repaired by `Encoding.decode_tf`."""
    import tensorflow as tf

    out = model.generate(y, seed)
    if not encoding.relations:
        return out
    y = tf.cast(y, tf.int32)
    seed = tf.cast(seed, tf.int32)
    bad = encoding.violations_tf(out)

    def redraw(r, out, bad):
        pending = tf.where(bad)  # [P, 1]
        n_p = tf.shape(pending)[0]
        # never an empty draw (some likelihood heads cannot take one): pad to one row
        y_p = tf.concat([tf.gather_nd(y, pending), y[:tf.maximum(1 - n_p, 0)]], axis=0)
        cand = model.generate(
            y_p, tf.random.experimental.stateless_fold_in(seed, _REDRAW_STREAM + r))
        cand = {key: value[:n_p] for key, value in cand.items()}
        ok = tf.logical_not(encoding.violations_tf(cand))
        take = tf.boolean_mask(pending, ok)
        out = {key: tf.tensor_scatter_nd_update(value, take, tf.boolean_mask(cand[key], ok))
               for key, value in out.items()}
        bad = tf.tensor_scatter_nd_update(bad, take, tf.zeros([tf.shape(take)[0]], tf.bool))
        return r + 1, out, bad

    def more(r, out, bad):
        return tf.logical_and(r <= REDRAW_ROUNDS, tf.reduce_any(bad))

    _, out, _ = tf.while_loop(more, redraw, (tf.constant(1, tf.int32), out, bad))
    return out


def relation_report(real: pa.Table, synthetic: pa.Table, columns: Sequence[str] | None = None,
                    *, limit: int = 20) -> list[dict[str, Any]]:
    """For each relation ``a <= b`` between numeric columns that holds in every row of `real`
    (and is not implied by the columns' ranges), the share of `synthetic` rows, among those
    with both values, that break it; worst first, at most `limit`. `columns`: the numeric
    columns to look at (default: every integer or floating column shared by both tables,
    the first `MAX_RELATION_COLUMNS`)."""
    if columns is None:
        columns = [f.name for f in real.schema
                   if (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
                   and f.name in synthetic.column_names]
    columns = list(columns)[:MAX_RELATION_COLUMNS]
    stats = RelationStats(columns)
    for batch in real.to_batches():
        stats.update(batch)
    rels = stats.relations()
    if not rels or not synthetic.num_rows:
        return []
    x = _numeric_matrix(synthetic, columns)
    pos = {name: i for i, name in enumerate(columns)}
    out = []
    for r in rels:
        a, b = x[:, pos[r.left]], x[:, pos[r.right]]
        both = ~(np.isnan(a) | np.isnan(b))
        n = int(both.sum())
        broken = int((a[both] > b[both]).sum())
        out.append({"relation": str(r), "left": r.left, "right": r.right,
                    "real_rows": int(stats.both[pos[r.left], pos[r.right]]),
                    "synthetic_rows": n, "violations": broken,
                    "violation_rate": round(broken / n, 6) if n else 0.0})
    out.sort(key=lambda e: (-e["violation_rate"], e["relation"]))
    return out[:limit]
