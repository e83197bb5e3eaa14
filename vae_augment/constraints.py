"""Inequalities between numeric columns ("Amount <= Price"): found in the training rows or
given by the user, kept with the encoding, and enforced when rows are generated.

The likelihood heads draw each numeric column independently given the latent code, so a
hard edge of the joint distribution is blurred even when both marginals are right: on
credit.parquet a loan never exceeds the price of what it buys (``Amount <= Price`` in all
4,454 rows), yet 12-16 % of the synthetic rows broke it before this module existed
(benchmarks/results/quality.md, session 17).

Real data often sits on the edge itself (8 % of credit's bad loans equal the price), which
independent heads almost never draw (1 %). So a generated row that breaks a relation is
either put on the edge (the left value lowered to the right one, by `Encoding.decode_tf`)
or redrawn: put on the edge with the probability that gives its class the share of rows on
the edge that the training rows of that class have (`Relation.ties`), else redrawn, up to
`REDRAW_ROUNDS` more draws, the model's own selection included (`constrained_generate`).
Redrawing alone would leave the edge nearly empty (credit: 18-23 % of bad rows with
Amount / Price > 0.9 against the real 30 %, and a detector AUC 0.018 higher); lowering
alone would put 15 % of bad rows on it. Either way the output satisfies every relation of
its encoding. A relation says nothing about a row where either value is null.

``"auto"`` also finds **derived columns**: a numeric column that is a linear function of
another in every training row, to the data's own rounding (churn's ``total_day_charge =
0.17 * total_day_minutes``, in cents). Independent heads blur those too (the synthetic
charge strays $0.58 from the rate, sd, against the real $0.003); `Encoding.decode_tf`
recomputes such a column from its source, on its own decimals, so every generated row keeps
it (`Derived`).

It also finds **linked columns**: a category value that a row has exactly when a numeric
column holds its most frequent value (churn's ``voice_mail_plan == "no"`` exactly when
``number_vmail_messages == 0``, in all but one of 5,000 rows). The category head and the
numeric head are drawn independently given the latent code, so 11-12 % of synthetic rows
with a plan had no messages; `Encoding.decode_tf` sets such a row's category from its
numeric value (`Link`). A numeric column's nulls count as a spike too (a loan amount null
exactly where ``has_loan == "no"``).

Example:
    >>> from vae_augment import fit
    >>> art = fit("credit.parquet", label="Status", constraints="auto")  # doctest: +SKIP
    >>> [str(r) for r in art.encoding.relations]                           # doctest: +SKIP
    ['Amount <= Price']
"""

from __future__ import annotations

import collections
import dataclasses
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

from vae_augment.errors import SchemaError, VAEAugmentError, warn
from vae_augment.schema import as_numbers, is_temporal

__all__ = [
    "Relation", "parse_relation", "RelationStats", "relation_stats", "discover_relations",
    "resolve_constraints", "resolve_rules", "constraint_spec", "ConstraintSpec",
    "constrained_generate", "relation_report", "independent_break_share", "REDRAW_ROUNDS",
    "MAX_RELATION_COLUMNS", "AUTO_MIN_BREAK", "Derived", "DERIVED_MIN_ROWS", "column_units", "derived_report",
    "real_stats", "Link", "LinkStats", "LINK_MIN_SPIKE", "LINK_MAX_BREAK", "link_report",
    "Dependency", "Rules", "dependency_report", "real_link_stats",
]

#: more draws a row that breaks a relation gets before `Encoding.decode_tf` repairs it
REDRAW_ROUNDS = 8
#: discovery looks at most at this many numeric columns (its cost grows with their square)
MAX_RELATION_COLUMNS = 64
#: ``"auto"`` leaves out a relation that two independent draws from the two columns'
#: marginals would break less often than this: the model, which gets the marginals right,
#: all but never breaks it (churn's ``total_day_charge <= total_day_minutes``: 0.4 %; 0 of
#: 25,000 synthetic rows), and each enforced relation costs generation time
AUTO_MIN_BREAK = 0.01
#: the most a relation found by "auto" may be a chance's: independent draws from the two
#: columns (breaking it with probability b) keep it in all n rows with probability
#: (1 - b) ** n, which must not exceed this (60 rows and b = 2.5 %: 0.22, a chance)
AUTO_MAX_CHANCE = 0.001
#: a redraw round draws several rows for each pending one when fewer than half this many
#: are pending (a decoder pass has a fixed cost of a few ms on CPU whatever its rows)
_REDRAW_MIN_ROWS = 512
#: spare rows drawn with the first draws, for the rows that break a relation: 1 per this
#: many rows (credit's bad loans: 8 % of first draws are redrawn), at least `_SPARE_MIN`
#: (or one per row in a smaller call)
_SPARE_FRACTION = 8
_SPARE_MIN = 64
# the redraws' seed stream, apart from the guide's ``fold_in(seed, r)`` for small r
_REDRAW_STREAM = 0x5EED0000

#: a derived column is found only from at least this many rows with both values (fewer
#: would let a chance fit through)
DERIVED_MIN_ROWS = 20
#: a derived column's residual sd may be this share of ``hypot(u_t, slope * u_s)``. Rounding
#: alone makes at most about 0.32 of it (independent uniform errors: 1/sqrt(12) = 0.29; a
#: target rounded from twice an unrounded source: 0.32); session 30 found integer `age` and
#: an `age_at_signup` 0, 1 or 2 years less (shares 0.5 / 0.3 / 0.2: 0.55) derived at a share
#: of 1, which erased the spread. An offset of one unit in some rows can still pass: it is
#: what rounding two columns of one unrounded value makes too
DERIVED_SD_SHARE = 0.4

#: a numeric column is searched for links when its most frequent value fills at least this
#: share of its quantile knots (the map's spike, `encoding._largest_spike`)
LINK_MIN_SPIKE = 0.05
#: a link may be broken in at most this share of the training rows with both values (real
#: data has the odd exception: one of churn's 5,000 rows has a plan and no messages), and
#: each of its two sides must hold in at least `DERIVED_MIN_ROWS` rows
LINK_MAX_BREAK = 0.001
#: categorical columns with more codes than this are not searched for links
LINK_MAX_CODES = 64
#: dependencies between categorical columns are searched among the first this many
#: categorical columns (of at most `LINK_MAX_CODES` codes): the counts grow with their square
DEPENDENCY_MAX_COLUMNS = 16
#: a dependency's determinant values of at least this many rows must cover
#: `DEPENDENCY_MIN_COVER` of the rows (a value seen once maps to one value by chance)
DEPENDENCY_MIN_GROUP = 5
DEPENDENCY_MIN_COVER = 0.9
#: and a dependency needs this many rows with a determinant (in a few dozen rows two
#: columns can line up by chance)
DEPENDENCY_MIN_ROWS = 100

_RELATION = re.compile(r"^\s*(.+?)\s*(<=|>=)\s*(.+?)\s*$")


@dataclasses.dataclass(frozen=True)
class Relation:
    """``left <= right`` between two numeric columns, in every row where neither is null.

    `ties`: per class (the encoding's order), the share of its training rows with both
    values where ``left == right`` (empty: none known, every breaking row is redrawn)."""

    left: str
    right: str
    ties: tuple[float, ...] = dataclasses.field(default=(), compare=False)

    def __str__(self) -> str:
        return f"{self.left} <= {self.right}"


def _name(column: str) -> str:
    """`column` as a formula shows it: as it is when it is one word, else quoted."""
    return column if column.isidentifier() else repr(column)


@dataclasses.dataclass(frozen=True)
class Derived:
    """``target = slope * source + intercept`` between two numeric columns, to `target`'s
    rounding, in every training row (and `target` null exactly where `source` is): generated
    rows get `target` recomputed from `source` (`Encoding.decode_tf`)."""

    target: str
    source: str
    slope: float
    intercept: float

    def __str__(self) -> str:
        # an intercept that is float noise next to the slope (-5.6e-17 for a line through 0)
        # reads as 0; a name that is not one word is quoted (`a b` read as a times b)
        b = 0.0 if abs(self.intercept) <= 1e-12 * max(abs(self.slope), 1.0) else self.intercept
        sign = "-" if b < 0 else "+"
        return (f"{_name(self.target)} = {self.slope:.6g} * {_name(self.source)} {sign} "
                f"{abs(b):.6g}")

    def values(self, source) -> np.ndarray:
        """The target's values for `source` values (before its rounding)."""
        return self.slope * np.asarray(source, np.float64) + self.intercept


@dataclasses.dataclass(frozen=True)
class Link:
    """``category == value`` exactly in the rows where ``column == spike`` (a numeric column
    and its most frequent value; `spike` None: where `column` is null), in all but
    `LINK_MAX_BREAK` of the training rows (with a value, for a spike): generated rows get
    `category` set from `column` (`Encoding.decode_tf`): `value` where the column holds
    the spike, `other` (the commonest other value off the spike, None for null) where it
    does not but the category says `value`; a spike link leaves rows where `column` is null
    as drawn."""

    category: str
    value: Any
    column: str
    spike: float | None
    other: Any

    def __str__(self) -> str:
        side = "is null" if self.spike is None else f"== {self.spike:g}"
        return f"{self.category} == {self.value!r} <=> {self.column} {side}"


@dataclasses.dataclass(frozen=True)
class Dependency:
    """Categorical `column` is a function of categorical `determinant` in all but
    `LINK_MAX_BREAK` of the training rows (a region of its state, a product category of its
    product): `mapping` holds ``(determinant value, column value)`` pairs. Generated rows get
    `column` set from `determinant` (`Encoding.decode_tf`); a determinant value without a
    pair (null) leaves it as drawn."""

    column: str
    determinant: str
    mapping: tuple[tuple[Any, Any], ...] = dataclasses.field(compare=False)

    def __str__(self) -> str:
        return f"{self.column} = f({self.determinant})"


def _keeps_grid(slope: float, intercept: float, unit_source: float, unit_target: float
                ) -> bool:
    """Whether ``slope * s + intercept`` lands on the target's grid (multiples of
    `unit_target`; 0: no grid) for every `s` on the source's (multiples of `unit_source`)."""
    if unit_target == 0.0:
        return True
    if unit_source == 0.0:
        return False
    step, offset = slope * unit_source / unit_target, intercept / unit_target
    return bool(abs(step - round(step)) < 1e-6 and abs(offset - round(offset)) < 1e-6)


# how much closer (as a log ratio) a pair's residual sd must be to one column's rounding
# than to the other's for `_direction_rank` to read a direction from it
DIRECTION_MARGIN = 0.05


def _direction_rank(rsd: float, slope: float, unit_source: float, unit_target: float) -> int:
    """How `target = slope * source` (residual sd `rsd`) ranks against the same pair the
    other way round, lower first. A column rounded after it was computed from the other
    leaves the residual of that rounding, sd ``u / sqrt(12)`` in its own units; the other
    way round the residual is the other column's rounding through the line. On churn's
    minutes and charges (charge = rate * minutes, to the cent) the charge's residual is
    within 1 % of 0.01 / sqrt(12), and 0.37-2.2 times the other hypothesis: 0 for the
    direction the rows were made in, 3 for its reverse. Where the two cannot be told apart
    (a unit of 0, or residuals alike): 1 when every source value gives a target of a real
    pair whichever way the data was made (``|slope| * u_source >= u_target``: a source
    step moves the target by a unit at least, so rounding the target cannot move the
    source off its grid), else 2. Deriving churn's international charge (0.27 a minute)
    from minutes' tenths: taking minutes from the charge instead gave 11 % of synthetic
    rows a charge no minutes give (session 50)."""
    if unit_source <= 0.0 or unit_target <= 0.0:
        return 1
    own = unit_target / np.sqrt(12.0)
    other = abs(slope) * unit_source / np.sqrt(12.0)
    if rsd > 0.0:
        a, b = abs(np.log(rsd / own)), abs(np.log(rsd / other))
        if a + DIRECTION_MARGIN < b:
            return 0
        if b + DIRECTION_MARGIN < a:
            return 3
    return 1 if abs(slope) * unit_source >= unit_target * (1 - 1e-9) else 2


def parse_relation(text: str | Relation) -> Relation:
    """``"A <= B"`` or ``"B >= A"`` (column names as written, spaces around them ignored)."""
    if isinstance(text, Relation):
        return text
    m = _RELATION.match(str(text)) if isinstance(text, str) else None
    if not m or "<" in m.group(1) + m.group(3) or ">" in m.group(1) + m.group(3):
        raise VAEAugmentError(
            f"constraint {text!r} must read 'A <= B' or 'A >= B' with two numeric column "
            "names, or be 'auto' or 'none'")
    a, op, b = m.groups()
    if a == b:
        raise VAEAugmentError(f"constraint {text!r} compares column '{a}' with itself")
    return Relation(a, b) if op == "<=" else Relation(b, a)


def _numeric_matrix(batch, names: Sequence[str]) -> np.ndarray:
    """float64 [rows, len(names)] of `batch`'s columns, NaN where null (integers beyond
    2**53, e.g. nanosecond timestamps, are rounded to the nearest float64, as everywhere)."""
    cols = []
    for name in names:
        col = batch.column(name)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        col = as_numbers(col)  # times and dates as their count of units
        cols.append(np.asarray(col.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False),
                               np.float64))
    return np.stack(cols, axis=1) if cols else np.zeros((batch.num_rows, 0))


class RelationStats:
    """Streaming statistics for `discover_relations`: per ordered pair of columns (a, b), the
    largest ``a - b`` over the rows where both are present and how many such rows there
    were, and the pair's means, centred second moments and co-moment over those rows (for
    `derived`); per column its smallest and largest value; with `n_classes`, per class and
    pair the rows with both present and those with ``a == b``. Mergeable (`merge`, the
    moments by Chan et al.'s pairwise update), so a distributed pass can combine partial
    results."""

    def __init__(self, names: Sequence[str], n_classes: int = 0,
                 links: LinkStats | None = None):
        self.names = list(names)
        #: the category-spike counts (`LinkStats`) over `names`' spike columns, or None
        self.links = links
        n = len(self.names)
        self.max_diff = np.full((n, n), -np.inf)
        self.both = np.zeros((n, n), np.int64)
        self.low = np.full(n, np.inf)
        self.high = np.full(n, -np.inf)
        self.class_both = np.zeros((n_classes, n, n), np.int64)
        self.class_equal = np.zeros((n_classes, n, n), np.int64)
        # [i, j] over the rows where columns i and j are both present: column i's mean and
        # centred sum of squares, and the two columns' co-moment (symmetric)
        self.pair_mean = np.zeros((n, n))
        self.pair_m2 = np.zeros((n, n))
        self.pair_co = np.zeros((n, n))

    def _add_moments(self, count, mean, m2, co) -> None:
        """Merges another set of rows' pair moments (`count` [n, n] rows with both present)
        into these, whose counts are `both` before that set was added."""
        na, nb = self.both.astype(np.float64), np.asarray(count, np.float64)
        total = na + nb
        # values near float64's limit (|x| > 1e154) overflow the squares: those pairs' moments
        # go infinite and `derived` skips them
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            w = np.where(total > 0, na * nb / total, 0.0)
            delta = np.where(nb > 0, mean - self.pair_mean, 0.0)
            self.pair_mean = self.pair_mean + np.where(total > 0, delta * nb / total, 0.0)
            self.pair_m2 = self.pair_m2 + np.where(nb > 0, m2, 0.0) + delta ** 2 * w
            self.pair_co = self.pair_co + np.where(nb > 0, co, 0.0) + delta * delta.T * w

    def update(self, batch, classes: np.ndarray | None = None,
               codes: np.ndarray | None = None) -> None:
        """Adds `batch`'s rows; `classes`: each row's class index (-1: not counted per
        class), needed when the statistics were made with `n_classes`; `codes`: int [rows,
        n] the codes of `links`' categorical columns (`category_codes`), needed with
        `links`."""
        x = _numeric_matrix(batch, self.names)
        if not len(x):
            return
        if self.links is not None:
            self.links.update(x[:, [self.names.index(c) for c in self.links.columns]], codes)
        present = ~np.isnan(x)
        onehot = None
        if len(self.class_both):
            codes = np.asarray(classes)
            onehot = (codes[:, None] == np.arange(len(self.class_both))[None, :]).astype(
                np.float64)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-null columns
            self.low = np.fmin(self.low, np.nanmin(x, axis=0))
            self.high = np.fmax(self.high, np.nanmax(x, axis=0))
        filled = np.where(present, x, 0.0)
        pf = present.astype(np.float64)
        count = pf.T @ pf
        # this batch's pair moments, from values centred on the batch's column means
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-null columns
            shift = np.nan_to_num(np.nanmean(x, axis=0))
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # see _add_moments
            xc = np.where(present, x - shift, 0.0)
            s1 = xc.T @ pf  # [i, j]: column i's sum over the rows with i and j
            safe = np.maximum(count, 1.0)
            self._add_moments(count, shift[:, None] + s1 / safe,
                              (xc ** 2).T @ pf - s1 ** 2 / safe,
                              xc.T @ xc - s1 * s1.T / safe)
        self.both += np.rint(count).astype(np.int64)
        for i in range(x.shape[1]):
            both = present[:, [i]] & present
            d = np.where(both, filled[:, [i]] - filled, -np.inf)
            self.max_diff[i] = np.maximum(self.max_diff[i], d.max(axis=0))
            if onehot is not None:
                self.class_both[:, i] += np.rint(onehot.T @ both).astype(np.int64)
                equal = both & (filled[:, [i]] == filled)
                self.class_equal[:, i] += np.rint(onehot.T @ equal).astype(np.int64)

    def merge(self, other: RelationStats) -> RelationStats:
        if other.names != self.names or other.class_both.shape != self.class_both.shape:
            raise ValueError("RelationStats over different columns cannot be merged")
        self.max_diff = np.maximum(self.max_diff, other.max_diff)
        self._add_moments(other.both, other.pair_mean, other.pair_m2, other.pair_co)
        self.both += other.both
        self.class_both += other.class_both
        self.class_equal += other.class_equal
        self.low = np.fmin(self.low, other.low)
        self.high = np.fmax(self.high, other.high)
        if (self.links is None) != (other.links is None):
            raise ValueError("RelationStats with and without link counts cannot be merged")
        if self.links is not None:
            self.links.merge(other.links)
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
                    out.append(self.relation(a, b))
        return out

    def relation(self, left: str, right: str) -> Relation:
        """``left <= right`` with its per-class tie shares (when counted per class)."""
        i, j = self.names.index(left), self.names.index(right)
        ties = tuple(round(float(e) / b, 6) if b else 0.0 for e, b in
                     zip(self.class_equal[:, i, j], self.class_both[:, i, j]))
        return Relation(left, right, ties)

    def derived(self, units: Mapping[str, float], *, exclude: Iterable[str] = (),
                min_rows: int = DERIVED_MIN_ROWS, schema: pa.Schema | None = None
                ) -> list[Derived]:
        """The derived columns: each ``target = slope * source + intercept`` (least squares)
        whose residual sd over the training rows is within what the two columns' rounding
        makes, `DERIVED_SD_SHARE` of ``sqrt(u_t**2 + (slope * u_s)**2)`` with `units` ``u``
        (a column's last decimal, 1 for integers, 0 when its values are not rounded: then
        within 1e-7 of its sd), in
        at least `min_rows` rows, the target null exactly where the source is. The best
        fit first (on ties, the source earlier in `names`), no column both a source and a
        target, none of `exclude` a target. With `schema`, a time column is derived only
        from a time column of its unit, and never the source of a plain number
        (`_same_units`): a line across units puts the target off its grid."""
        cands = []
        diag = np.diag(self.both)
        exclude = set(exclude)
        for i, t in enumerate(self.names):
            for j, src in enumerate(self.names):
                n = self.both[i, j]
                moments = (self.pair_m2[j, i], self.pair_m2[i, j], self.pair_co[i, j])
                if (i == j or t in exclude or n < min_rows or not diag[i] == diag[j] == n
                        or (schema is not None and not _same_units(schema, t, src))
                        or not np.isfinite(moments).all()  # overflowed (see _add_moments)
                        or self.pair_m2[j, i] <= 0 or self.pair_m2[i, j] <= 0):
                    continue
                slope = self.pair_co[i, j] / self.pair_m2[j, i]
                rsd = np.sqrt(max(self.pair_m2[i, j] - self.pair_co[i, j] * slope, 0.0) / n)
                tol = DERIVED_SD_SHARE * float(np.hypot(units.get(t, 0.0),
                                                        slope * units.get(src, 0.0)))
                if tol == 0.0:
                    tol = 1e-7 * np.sqrt(self.pair_m2[i, j] / n)
                if rsd <= tol:
                    intercept = self.pair_mean[i, j] - slope * self.pair_mean[j, i]
                    grid = _keeps_grid(slope, intercept, units.get(src, 0.0),
                                       units.get(t, 0.0))
                    cands.append([round(rsd / tol, 6), not grid, 0, j, i, t, src,
                                  float(slope), float(intercept),
                                  _direction_rank(rsd, slope, units.get(src, 0.0),
                                                  units.get(t, 0.0))])
        # a pair that fits both ways keeps the direction its rounding shows, else the one
        # whose every row is on the real pairs' grid whichever way the data was made
        # (`_direction_rank`)
        ranks = {(c[5], c[6]): c[9] for c in cands}
        cands = [c[:9] for c in cands if ranks.get((c[6], c[5]), 9) >= c[9]]
        # ties (exact both ways, as in a chain a = b + 1, b = 2 c): a source whose values
        # give the target values on its own grid (c for a and b: (a - 1) / 2 is half a unit
        # off for even a, and rounding it breaks b = 2 c), the one with most such targets,
        # then the source earlier in the schema
        on_grid = collections.Counter(c[6] for c in cands if not c[1])
        for c in cands:
            c[2] = -on_grid[c[6]]
        out: list[Derived] = []
        for *_, t, src, slope, intercept in sorted(cands):
            if all(t not in (d.target, d.source) and src != d.target for d in out):
                out.append(Derived(t, src, slope, intercept))
        return out

    def broken_rows(self, left: str, right: str) -> bool:
        """Whether some row had ``left > right``."""
        return bool(self.max_diff[self.names.index(left), self.names.index(right)] > 0.0)


class LinkStats:
    """Streaming counts for `Link` discovery: for each numeric column with a spike value
    (`columns`, `spikes`; a spike None stands for null, for a column with nulls) and each
    categorical column (`categories`, with `n_codes` codes, the null one included), the
    rows (where the numeric value is present, for a value), by category code and by whether
    the column holds the spike. Mergeable (sums)."""

    def __init__(self, columns: Sequence[str], spikes: Sequence[float | None],
                 categories: Sequence[str], n_codes: Sequence[int]):
        self.columns = list(columns)
        self.spikes = [None if v is None else float(v) for v in spikes]
        self.categories, self.n_codes = list(categories), [int(n) for n in n_codes]
        # [column, category, code, 0: on the spike / 1: off it]
        self.counts = np.zeros((len(self.columns), len(self.categories),
                                max(self.n_codes, default=0), 2), np.int64)
        # {(i, j): [codes of category i, codes of category j]}, i < j, the first
        # DEPENDENCY_MAX_COLUMNS categories: the rows of each pair of values (dependencies)
        first = range(min(len(self.categories), DEPENDENCY_MAX_COLUMNS))
        self.pairs = {(i, j): np.zeros((self.n_codes[i], self.n_codes[j]), np.int64)
                      for i in first for j in first if i < j}

    def update(self, x: np.ndarray, codes: np.ndarray) -> None:
        """Adds rows: `x` float [rows, len(columns)] (NaN where null), `codes` int [rows,
        len(categories)]."""
        if not len(codes):
            return
        codes = np.asarray(codes, np.int64)
        for (i, j), counts in self.pairs.items():
            counts += np.bincount(codes[:, i] * counts.shape[1] + codes[:, j],
                                  minlength=counts.size).reshape(counts.shape)
        if not self.counts.size:
            return
        n_cat, width = self.counts.shape[1:3]
        # each category's codes in its own block of the counts: one bincount per column
        cells = (np.asarray(codes, np.int64) + np.arange(n_cat) * width) * 2
        for i, spike in enumerate(self.spikes):
            if spike is None:  # null is the spike: every row counts
                rows, off = cells, ~np.isnan(x[:, i])
            else:
                present = ~np.isnan(x[:, i])
                rows, off = cells[present], x[present, i] != spike
            self.counts[i] += np.bincount((rows + off[:, None]).ravel(),
                                          minlength=n_cat * width * 2).reshape(n_cat, width, 2)

    def merge(self, other: LinkStats) -> LinkStats:
        if (other.columns, other.spikes, other.categories) != (
                self.columns, self.spikes, self.categories):
            raise ValueError("LinkStats over different columns cannot be merged")
        self.counts += other.counts
        for key, counts in other.pairs.items():
            self.pairs[key] += counts
        return self

    def dependencies(self, vocabs: Mapping[str, Sequence[Any]], *,
                     max_break: float = LINK_MAX_BREAK, exclude: Iterable[str] = ()
                     ) -> list[Dependency]:
        """The dependencies between the counted categorical columns: `column` a function of
        `determinant` in all but `max_break` of the rows (rows with a null determinant
        aside; `DEPENDENCY_MIN_ROWS` or more), the determinant's values of
        `DEPENDENCY_MIN_GROUP` rows or more covering `DEPENDENCY_MIN_COVER` of them, `column`
        taking two values or more with none in over 90 % of the rows. One determinant per column (the earlier column when two
        determine each other), no column both a determinant and determined, none of
        `exclude` determined."""
        exclude = set(exclude)
        found: list[tuple[int, int, dict]] = []
        n_cat = min(len(self.categories), DEPENDENCY_MAX_COLUMNS)
        for d in range(n_cat):
            for c in range(n_cat):
                name = self.categories[c]
                if d == c or name in exclude:
                    continue
                counts = self.pairs[(d, c)] if d < c else self.pairs[(c, d)].T
                dv, cv = list(vocabs[self.categories[d]]), list(vocabs[name])
                m = counts[:len(dv)]  # a null determinant: no say
                n = int(m.sum())
                if n < DEPENDENCY_MIN_ROWS:
                    continue
                group = m.sum(axis=1)
                best = m[:, :len(cv)].argmax(axis=1)
                broken = n - int(m[np.arange(len(m)), best].sum())
                share = m.sum(axis=0)
                image = {int(b) for b, g in zip(best, group) if g > 0}
                if (broken > max_break * n or len(image) < 2
                        or group[group >= DEPENDENCY_MIN_GROUP].sum() < DEPENDENCY_MIN_COVER * n
                        or share.max() > 0.9 * n):
                    continue
                found.append((d, c, {dv[k]: cv[int(b)] for k, (b, g) in
                                     enumerate(zip(best, group)) if g > 0}))
        out: list[Dependency] = []
        used_as = {}
        for d, c, mapping in found:  # determinants earlier in the schema first
            if c in used_as or used_as.get(d) == "column" or used_as.get(c) == "determinant":
                continue
            if (c, d) in {(x, y) for x, y, _ in found} and c < d:
                continue  # each determines the other: the earlier one is the determinant
            used_as[c], used_as[d] = "column", "determinant"
            out.append(Dependency(self.categories[c], self.categories[d],
                                  tuple(mapping.items())))
        return out

    def links(self, vocabs: Mapping[str, Sequence[Any]], *, min_rows: int = DERIVED_MIN_ROWS,
              max_break: float = LINK_MAX_BREAK) -> list[Link]:
        """The links: for each categorical column at most one (the numeric column seen with
        it in the most rows; then the fewest breaking rows), each side in at least
        `min_rows` rows, at most `max_break` of the rows breaking it. `vocabs`: each
        categorical column's vocabulary (its codes' values; the null code, after them, is
        never a link's value)."""
        best: dict[str, tuple] = {}
        for i, (column, spike) in enumerate(zip(self.columns, self.spikes)):
            for k, category in enumerate(self.categories):
                vocab = list(vocabs[category])
                if len(vocab) < 2:
                    continue
                on, off = self.counts[i, k, :, 0], self.counts[i, k, :, 1]
                n = int(on.sum() + off.sum())
                c = int(np.argmax(on[:len(vocab)]))
                # the commonest value off the spike, null (the code after the vocabulary,
                # for a column with nulls) included: a column mostly null off the spike
                # must not have its rewritten rows all take its rare other value
                rest = off[:min(len(vocab) + 1, self.n_codes[k])].copy()
                rest[c] = -1
                other = int(np.argmax(rest))
                broken = int(on.sum() - on[c] + off[c])
                if (on[c] < min_rows or off.sum() - off[c] < min_rows
                        or broken > max_break * n):
                    continue
                key = (-n, broken, i)
                if category not in best or key < best[category][0]:
                    best[category] = (key, Link(category, vocab[c], column, spike,
                                                vocab[other] if other < len(vocab) else None))
        return [best[c][1] for c in self.categories if c in best]


def link_columns(encoding, names: Sequence[str], categories: Iterable[str] | None = None
                 ) -> LinkStats | None:
    """Empty `LinkStats` for `encoding`: the numeric columns among `names` whose quantile
    knots have a spike (`LINK_MIN_SPIKE`), and those with nulls (null as the spike),
    against the categorical columns of at most `LINK_MAX_CODES` codes, and those columns'
    pairs (`Dependency`); None when there is nothing to count. `categories`: only these
    categorical columns (None: all)."""
    from vae_augment.encoding import _largest_spike

    specs = {s.name: s for s in encoding.numeric}
    columns, spikes = [], []
    for name in names:
        s = specs.get(name)
        if s is None:
            continue
        v = None if s.knots is None else _largest_spike(
            np.asarray(s.knots, np.float64), LINK_MIN_SPIKE)
        if v is not None:
            columns.append(name)
            spikes.append(v)
        if s.has_nulls:
            columns.append(name)
            spikes.append(None)
    keep = None if categories is None else set(categories)
    cats = [s for s in encoding.categorical if 2 <= s.n_categories <= LINK_MAX_CODES
            and (keep is None or s.name in keep)]
    if not cats or (not columns and len(cats) < 2):
        return None
    return LinkStats(columns, spikes, [s.name for s in cats], [s.n_categories for s in cats])


def category_codes(batch, encoding, categories: Sequence[str]) -> np.ndarray:
    """int [rows, len(categories)]: `batch`'s codes of `encoding`'s categorical columns
    `categories` (the null code where null)."""
    specs = {s.name: s for s in encoding.categorical}
    cols = []
    for name in categories:
        col = batch.column(name)
        if isinstance(col, pa.ChunkedArray):
            col = col.combine_chunks()
        cols.append(encoding._encode_categorical(specs[name], col))
    return (np.stack(cols, axis=1) if cols
            else np.zeros((batch.num_rows, 0), np.int64))


def class_codes(batch, encoding) -> np.ndarray:
    """Each row's class index in `encoding` (-1 for a null or unknown label)."""
    col = batch.column(encoding.label)
    if isinstance(col, pa.ChunkedArray):
        col = col.combine_chunks()
    idx = encoding.label_index(col)[1].fill_null(-1)
    return np.asarray(idx.to_numpy(zero_copy_only=False), np.int64)


def new_relation_stats(encoding, names: Sequence[str], links: bool = False) -> RelationStats:
    """Empty `RelationStats` of `names`, per class of `encoding`, with `LinkStats` when
    `links` (and `encoding` has columns to link)."""
    return RelationStats(names, len(encoding.classes),
                         link_columns(encoding, names) if links else None)


def update_relation_stats(stats: RelationStats, batch, encoding) -> None:
    """Adds `batch` (with the label and the columns `stats` counts) to `stats`."""
    codes = (category_codes(batch, encoding, stats.links.categories)
             if stats.links is not None else None)
    stats.update(batch, class_codes(batch, encoding), codes)


def relation_stats(inputs, encoding, names: Sequence[str], links: bool = False
                   ) -> RelationStats:
    """`RelationStats` of `names` over `inputs` (a table, or Parquet paths read batch by
    batch), counted per class of `encoding`, with link counts when `links`: one streaming
    pass."""
    from vae_augment.io import iter_batches, resolve_inputs

    names = list(names)
    stats = new_relation_stats(encoding, names, links)
    if isinstance(inputs, (pa.Table, pa.RecordBatch)):
        batches: Iterable = (inputs.to_batches() if isinstance(inputs, pa.Table) else [inputs])
    else:
        cats = stats.links.categories if stats.links is not None else []
        batches = iter_batches(resolve_inputs(inputs), columns=[*names, *cats, encoding.label])
    for batch in batches:
        update_relation_stats(stats, batch, encoding)
    return stats


def independent_break_share(left_knots, right_knots) -> float:
    """P(a > b) for a and b drawn independently from two columns' quantile knots (their
    marginals): how often a model that got the marginals right and nothing else would break
    ``left <= right``."""
    a, b = np.sort(np.asarray(left_knots, float)), np.sort(np.asarray(right_knots, float))
    if not len(a) or not len(b):
        return 0.0
    return float(np.searchsorted(b, a, side="left").mean() / len(b))


def _auto_columns(encoding) -> list[str]:
    """The numeric columns ``"auto"`` searches (the first `MAX_RELATION_COLUMNS`)."""
    names = [s.name for s in encoding.numeric]
    if len(names) > MAX_RELATION_COLUMNS:
        warn(
            f"constraints='auto' looks for relations among the first {MAX_RELATION_COLUMNS} of "
            f"{len(names)} numeric columns; name the others' constraints explicitly")
    return names[:MAX_RELATION_COLUMNS]


def _auto_relations(stats: RelationStats, encoding, min_break: float) -> list[Relation]:
    """`stats`' relations less those the columns' marginals alone keep, and those that hold
    in too few rows to tell from chance (`AUTO_MAX_CHANCE`; see `discover_relations`)."""
    knots = {s.name: s.knots for s in encoding.numeric}
    out = []
    for r in stats.relations():
        if not _same_units(encoding.schema, r.left, r.right):
            continue
        if knots[r.left] is None or knots[r.right] is None:
            out.append(r)
            continue
        share = independent_break_share(knots[r.left], knots[r.right])
        rows = int(stats.both[stats.names.index(r.left), stats.names.index(r.right)])
        if min_break <= 0 or (share >= min_break and rows * -np.log1p(
                -min(share, 1 - 1e-12)) >= -np.log(AUTO_MAX_CHANCE)):
            out.append(r)  # min_break 0: every relation that holds
    return out


def discover_relations(inputs, encoding, *, min_break: float = AUTO_MIN_BREAK) -> list[Relation]:
    """The relations between `encoding`'s numeric columns that hold in every row of `inputs`
    (a table, or Parquet paths read batch by batch), with their tie shares, leaving out those
    that independent draws from the two columns would break less often than `min_break`
    (`independent_break_share`), or would keep in all those rows with a probability over
    `AUTO_MAX_CHANCE` (a small table's chance): one pass."""
    names = _auto_columns(encoding)
    if not names:
        return []
    return _auto_relations(relation_stats(inputs, encoding, names), encoding, min_break)


class Rules(NamedTuple):
    """What `ConstraintSpec.rules` resolves to: the generated rows keep each."""

    relations: list[Relation]
    derived: list[Derived]
    links: list[Link]
    dependencies: list[Dependency]


@dataclasses.dataclass(frozen=True)
class ConstraintSpec:
    """`fit`'s ``constraints`` read and checked against an encoding: whether ``"auto"`` was
    asked for, and the named relations. `key` is its canonical form, stored with the
    encoding (`Encoding.constraints`) so that relations already resolved from the same
    request on the same data (by `pipelines.fit_stats`, or a run being resumed) are kept
    instead of found again."""

    auto: bool
    given: tuple[Relation, ...]

    @property
    def key(self) -> tuple[str, ...]:
        return (("auto",) if self.auto else ()) + tuple(dict.fromkeys(map(str, self.given)))

    def columns(self, encoding) -> list[str]:
        """The columns whose `RelationStats` `relations` needs."""
        auto = _auto_columns(encoding) if self.auto else []
        return list(dict.fromkeys([*auto, *(n for r in self.given for n in (r.left, r.right))]))

    def needs_pass(self, encoding) -> bool:
        """Whether `rules` needs a pass over the data: numeric columns to search, or with
        ``"auto"`` categorical columns to link or relate."""
        # not `columns`, whose search warns of a wide table: the caller asks for them next
        return bool(self.given) or (self.auto and (
            bool(encoding.numeric) or link_columns(encoding, []) is not None))

    def relations(self, stats: RelationStats | None, encoding, *,
                  min_break: float = AUTO_MIN_BREAK) -> list[Relation]:
        """The relations, with their tie shares, from `stats` over `columns` (warns when a
        named one does not hold in every training row)."""
        if stats is None:
            return []
        out = _auto_relations(stats, encoding, min_break) if self.auto else []
        for r in self.given:
            if stats.broken_rows(r.left, r.right):
                warn(f"constraint '{r}' does not hold in every training row; "
                     "synthetic rows will keep it all the same")
            out.append(stats.relation(r.left, r.right))
        return list(dict.fromkeys(out))

    def rules(self, stats: RelationStats | None, encoding) -> Rules:
        """`relations`, and with ``"auto"`` the derived columns in `stats`
        (`RelationStats.derived`), the linked columns (`LinkStats.links`, when `stats`
        counted them) and the dependencies between categorical columns
        (`LinkStats.dependencies`; a linked category is never determined). A derived column's value is recomputed from its source, which an
        inequality's repair would undo: no column of a named relation is a target, and the
        relations ``"auto"`` found on a target are dropped (a derived ``units = 3 * count +
        1`` also makes ``count <= units`` hold in every row)."""
        relations = self.relations(stats, encoding)
        if stats is None or not self.auto:
            return Rules(relations, [], [], [])
        derived = stats.derived(column_units(encoding),
                                exclude={n for r in self.given for n in (r.left, r.right)},
                                schema=encoding.schema)
        targets = {d.target for d in derived}
        vocabs = {s.name: s.vocab or [] for s in encoding.categorical}
        links = stats.links.links(vocabs) if stats.links is not None else []
        dependencies = (stats.links.dependencies(vocabs, exclude={k.category for k in links})
                        if stats.links is not None else [])
        return Rules([r for r in relations if not {r.left, r.right} & targets], derived, links,
                     dependencies)


def column_units(encoding) -> dict[str, float]:
    """Each numeric column's rounding unit: a time column's grid (`FeatureSpec.unit`, e.g.
    3,600,000 for milliseconds all on the hour), 1 for other integers, 10**-decimals for
    floats observed to a number of decimals, 0 for the others."""
    return {s.name: s.rounding_unit for s in encoding.numeric}


def constraint_spec(constraints, encoding=None) -> ConstraintSpec:
    """`fit`'s ``constraints`` as a `ConstraintSpec`: None, ``"none"`` or () for none;
    ``"auto"`` for every relation `discover_relations` finds; or a list of ``"A <= B"``
    strings (or `Relation`s), which may include ``"auto"``. With `encoding`, checks that every
    named column is one of its numeric columns."""
    if isinstance(constraints, ConstraintSpec):
        constraints = [*(["auto"] if constraints.auto else []), *constraints.given]
    if constraints is None or (isinstance(constraints, str)
                               and constraints.strip().lower() == "none"):
        return ConstraintSpec(False, ())
    items = [constraints] if isinstance(constraints, (str, Relation)) else list(constraints)

    def word(item):
        return item.strip().lower() if isinstance(item, str) else None

    auto = any(word(i) == "auto" for i in items)
    given = tuple(parse_relation(i) for i in items if word(i) not in ("auto", "none"))
    if encoding is not None:
        numeric = [s.name for s in encoding.numeric]
        kinds = {s.name: s.kind for s in encoding.specs}
        for r in given:
            for name in (r.left, r.right):
                if name not in numeric:
                    what = ("the label" if name == encoding.label else
                            f"a {kinds[name]} column" if name in kinds else "not a column")
                    raise SchemaError(
                        f"constraint '{r}': '{name}' is {what}; constraints compare numeric "
                        f"columns: {numeric}")
            if not _same_units(encoding.schema, r.left, r.right):
                a, b = (encoding.schema.field(n).type for n in (r.left, r.right))
                raise SchemaError(
                    f"constraint '{r}' compares {a} with {b}, which count different units; "
                    f"cast one column to the other's type first" if is_temporal(a)
                    and is_temporal(b) else f"constraint '{r}' compares {a} with {b}: a time "
                    f"column keeps a relation only with a time column of its unit")
    return ConstraintSpec(auto, given)


def _same_units(schema: pa.Schema, a: str, b: str) -> bool:
    """Whether columns `a` and `b` of `schema` can be compared as the numbers they are
    modelled as: False for a time column against a plain number, or against a time column
    that counts other units (a timestamp in milliseconds and one in microseconds, a date32
    in days and a timestamp); True otherwise."""
    ta, tb = schema.field(a).type, schema.field(b).type
    if not (is_temporal(ta) or is_temporal(tb)):
        return True
    if not (is_temporal(ta) and is_temporal(tb)):
        return False
    if pa.types.is_timestamp(ta) and pa.types.is_timestamp(tb):
        return ta.unit == tb.unit  # time zones aside: both count from 1970 UTC
    return ta.equals(tb)


def resolve_constraints(constraints, inputs, encoding) -> list[Relation]:
    """`fit`'s ``constraints`` (see `constraint_spec`) as relations with their tie shares,
    from one streaming pass over `inputs` (none when nothing is asked for)."""
    return resolve_rules(constraints, inputs, encoding)[0]


def resolve_rules(constraints, inputs, encoding) -> Rules:
    """`resolve_constraints`' relations and, with ``"auto"``, the derived and the linked
    columns and the dependencies (`ConstraintSpec.rules`), from the same one pass over
    `inputs`."""
    spec = constraint_spec(constraints, encoding)
    stats = (relation_stats(inputs, encoding, spec.columns(encoding), links=spec.auto)
             if spec.needs_pass(encoding) else None)
    return spec.rules(stats, encoding)


def _class_groups(classes, n_classes: int):
    """(order, count, start, rank) of int32 class indices `classes` ([m]): the stable order
    that groups them by class, the entries per class and where each class's group starts in
    that order ([n_classes] each), and each entry's rank among the earlier entries of its
    class ([m]). Shape-static ops only (no `tf.range` of a computed size), for XLA."""
    import tensorflow as tf

    order = tf.argsort(classes, stable=True)
    count = tf.math.unsorted_segment_sum(tf.ones_like(classes), classes, n_classes)
    start = tf.cumsum(count, exclusive=True)
    grouped = tf.gather(classes, order)
    rank = tf.cumsum(tf.ones_like(classes), exclusive=True) - tf.gather(start, grouped)
    rank = tf.tensor_scatter_nd_update(tf.zeros_like(rank), order[:, None], rank)
    return order, count, start, rank


def _take_spares(out, bad, y, spare, usable, y_spare, n_classes: int):
    """`out` with each pending row (`bad`) replaced by an unused `usable` spare row of its
    class, in order (the i-th pending row of a class takes the class's i-th usable spare),
    and `bad` cleared where one was found."""
    import tensorflow as tf

    pend = tf.where(bad)[:, 0]
    have = tf.where(usable)[:, 0]
    y_p, y_s = tf.gather(y, pend), tf.gather(y_spare, have)
    rank_p = _class_groups(y_p, n_classes)[3]
    order_s, count_s, start_s, _ = _class_groups(y_s, n_classes)
    hit = rank_p < tf.gather(count_s, y_p)
    at = tf.boolean_mask(tf.gather(start_s, y_p) + rank_p, hit)
    src = tf.gather(have, tf.gather(order_s, at))
    dst = tf.boolean_mask(pend, hit)[:, None]
    out = {key: tf.tensor_scatter_nd_update(value, dst, tf.gather(spare[key], src))
           for key, value in out.items()}
    bad = tf.tensor_scatter_nd_update(bad, dst, tf.zeros([tf.shape(dst)[0]], tf.bool))
    return out, bad


def constrained_generate(model, encoding, y, seed, *, candidates: int | None = None
                         ) -> dict[str, Any]:
    """``model.generate(y, seed, candidates=candidates)`` with the rows that break
    `encoding.relations` handled (TF ops only). A first draw that breaks relation r is left
    for `Encoding.decode_tf` to put on the edge with probability min(1, (t - e) / b), t its
    class's tie share
    (`Relation.ties`), e and b the shares of this call's first draws of that class (with
    both values) that are on the edge and that break r, so that about t of the class's rows
    end on the edge; the other breaking rows are redrawn (a redraw must keep every
    relation). Redraws come first from spare rows drawn in the same `model.generate` call
    as the first draws (1/`_SPARE_FRACTION` more rows, classes those of the first rows of
    `y`): a decoder pass has a fixed cost, so a second, dependent pass for a few hundred rows
    cost as much as those spares. Rows left without a spare of their class are redrawn up to
    `REDRAW_ROUNDS` times (a `tf.while_loop` that stops once every row holds; several
    draws a row at once when few are pending). Round r draws with seed ``fold_in(seed,
    STREAM + r)``. Rows still breaking one afterwards are put on the edge by
    `Encoding.decode_tf` as well."""
    import tensorflow as tf

    kw = {} if candidates is None else {"candidates": candidates}
    if not encoding.relations:
        return model.generate(y, seed, **kw)
    y = tf.cast(y, tf.int32)
    seed = tf.cast(seed, tf.int32)
    n = tf.shape(y)[0]
    n_spare = tf.maximum(n // _SPARE_FRACTION, tf.minimum(n, _SPARE_MIN))
    y_spare = tf.gather(y, tf.math.floormod(tf.range(n_spare), tf.maximum(n, 1)))
    drawn = model.generate(tf.concat([y, y_spare], axis=0), seed, **kw)
    out = {key: value[:n] for key, value in drawn.items()}
    spare = {key: value[n:] for key, value in drawn.items()}
    broken_all, equal, present = encoding.relation_status_tf(drawn)  # [B + S, R] each
    usable = tf.logical_not(tf.reduce_any(broken_all[n:], axis=1))
    broken, equal, present = broken_all[:n], equal[:n], present[:n]
    n_classes = len(encoding.classes)

    def class_share(mask):  # [C, R]: per class, the share of rows with both values
        rows = tf.math.unsorted_segment_sum(tf.cast(present, tf.float32), y, n_classes)
        hits = tf.math.unsorted_segment_sum(tf.cast(mask, tf.float32), y, n_classes)
        return hits / tf.maximum(rows, 1.0)

    ties = tf.constant(encoding.relation_ties(), tf.float32)  # [C, R]
    # on the edge already: the draws that land there; to add: ties minus those
    want = tf.maximum(ties - class_share(equal), 0.0)
    p_edge = tf.gather(tf.minimum(1.0, want / tf.maximum(class_share(broken), 1e-9)), y)
    u = tf.random.stateless_uniform(tf.shape(p_edge), seed=tf.random.experimental
                                    .stateless_fold_in(seed, _REDRAW_STREAM))
    bad = tf.reduce_any(tf.logical_and(broken, u >= p_edge), axis=1)
    out, bad = _take_spares(out, bad, y, spare, usable, y_spare, n_classes)

    def redraw(used, r, out, bad):
        # k draws for each pending row (the first that keeps every relation is taken): one
        # while many rows are pending, several when few are, so that a round, whose decoder
        # pass has a fixed cost, draws about `_REDRAW_MIN_ROWS` rows; a row gets at
        # most `REDRAW_ROUNDS` draws in all, as with one draw a round. (Shapes come from
        # `tf.where` of masks only, for XLA.)
        n_p = tf.reduce_sum(tf.cast(bad, tf.int32))
        k = tf.clip_by_value(_REDRAW_MIN_ROWS // tf.maximum(n_p, 1), 1, REDRAW_ROUNDS - used)
        copies = tf.range(REDRAW_ROUNDS)[:, None] < k  # [ROUNDS, 1]
        rows = tf.where(tf.logical_and(copies, bad[None, :]))[:, 1]  # [k * P], copy-major
        cand = model.generate(
            tf.gather(y, rows),
            tf.random.experimental.stateless_fold_in(seed, _REDRAW_STREAM + r), **kw)
        ok = tf.logical_not(encoding.violations_tf(cand))
        pos = tf.cumsum(tf.ones_like(rows, tf.int32), exclusive=True)
        never = tf.int32.max
        # per row, its first candidate that keeps every relation (never: none did)
        best = tf.math.unsorted_segment_min(tf.where(ok, pos, never), rows, tf.shape(y)[0])
        take = tf.where(best < never)  # [F, 1]
        src = tf.gather_nd(best, take)
        out = {key: tf.tensor_scatter_nd_update(value, take, tf.gather(cand[key], src))
               for key, value in out.items()}
        bad = tf.tensor_scatter_nd_update(bad, take, tf.zeros([tf.shape(take)[0]], tf.bool))
        return used + k, r + 1, out, bad

    def more(used, r, out, bad):
        return tf.logical_and(used < REDRAW_ROUNDS, tf.reduce_any(bad))

    if REDRAW_ROUNDS > 0:
        zero = tf.constant(0, tf.int32)
        _, _, out, _ = tf.while_loop(more, redraw, (zero, tf.constant(1, tf.int32), out, bad))
    # a model whose draws seldom break a relation leaves its class's edge short even with
    # every breaking draw on it (the guided defaults: 17.7 % of a class on the edge where the
    # real rows have 25.7 %): the rows nearest the edge make up the rest (`decode_tf` puts
    # the rows `out["edge"]` marks on it)
    short = tf.maximum(want - class_share(broken), 0.0)  # [C, R], a share of the class
    rows = tf.math.unsorted_segment_sum(tf.cast(present, tf.float32), y, n_classes)
    out["edge"] = nearest_to_edge(encoding, out, y, tf.round(short * rows), n_classes)
    return out


def nearest_to_edge(encoding, gen, y, k, n_classes: int):
    """bool [B, n_relations]: for each relation r and class c, the ``k[c, r]`` rows of class
    c in model-space samples `gen` that keep r off its edge, with both values, whose left
    value is nearest their right one (the smallest relative gap; `Encoding.relation_gaps_tf`).
    TF ops only (XLA: a stable sort and cumulative counts, no data-dependent shapes)."""
    import tensorflow as tf

    gap = encoding.relation_gaps_tf(gen)  # < 0 breaks, 0 on the edge, inf a value null
    free = tf.logical_and(gap > 0, tf.math.is_finite(gap))
    y = tf.cast(y, tf.int32)
    k = tf.cast(k, tf.int32)
    marks = []
    for r in range(len(encoding.relations)):
        g = tf.where(free[:, r], gap[:, r], tf.constant(np.inf, tf.float64))
        order = tf.argsort(g, stable=True)
        ys = tf.gather(y, order)
        onehot = tf.one_hot(ys, n_classes, dtype=tf.int32)
        rank = tf.reduce_sum(tf.cumsum(onehot, axis=0) * onehot, axis=1) - 1  # within class
        take = tf.logical_and(rank < tf.gather(k[:, r], ys), tf.gather(free[:, r], order))
        marks.append(tf.scatter_nd(order[:, None], tf.cast(take, tf.int32), tf.shape(y)) > 0)
    return tf.stack(marks, axis=1)


def real_stats(real: pa.Table, columns: Sequence[str]) -> RelationStats:
    """`RelationStats` of `real`'s `columns` (the first `MAX_RELATION_COLUMNS`), not per
    class: what `relation_report` and `derived_report` read."""
    stats = RelationStats(list(columns)[:MAX_RELATION_COLUMNS])
    for batch in real.to_batches():
        stats.update(batch)
    return stats


def relation_report(real: pa.Table, synthetic: pa.Table, columns: Sequence[str] | None = None,
                    *, limit: int = 20, stats: RelationStats | None = None
                    ) -> list[dict[str, Any]]:
    """For each relation ``a <= b`` between numeric columns that holds in every row of `real`
    (and is not implied by the columns' ranges), the share of `synthetic` rows, among those
    with both values, that break it; worst first, at most `limit`, the relations that may
    hold by chance (``by_chance``: the two marginals alone break it under `AUTO_MIN_BREAK` of
    the time) after the others. `columns`: the numeric
    columns to look at (default: every integer or floating column shared by both tables,
    the first `MAX_RELATION_COLUMNS`). `stats`: `real_stats` of `real` over those columns,
    when already computed."""
    if columns is None:
        columns = [f.name for f in real.schema
                   if (pa.types.is_integer(f.type) or pa.types.is_floating(f.type))
                   and f.name in synthetic.column_names]
    columns = list(columns)[:MAX_RELATION_COLUMNS]
    if stats is None or stats.names != columns:
        stats = real_stats(real, columns)
    rels = stats.relations()
    if not rels or not synthetic.num_rows:
        return []
    x = _numeric_matrix(synthetic, columns)
    x_real = _numeric_matrix(real, columns)
    if len(x_real) > 20000:  # the marginals' break share needs no more
        x_real = x_real[np.random.default_rng(0).choice(len(x_real), 20000, replace=False)]
    pos = {name: i for i, name in enumerate(columns)}
    out = []
    for r in rels:
        a, b = x[:, pos[r.left]], x[:, pos[r.right]]
        both = ~(np.isnan(a) | np.isnan(b))
        n = int(both.sum())
        broken = int((a[both] > b[both]).sum())
        ra, rb = x_real[:, pos[r.left]], x_real[:, pos[r.right]]
        marginal = independent_break_share(ra[~np.isnan(ra)], rb[~np.isnan(rb)])
        out.append({"relation": str(r), "left": r.left, "right": r.right,
                    "real_rows": int(stats.both[pos[r.left], pos[r.right]]),
                    "synthetic_rows": n, "violations": broken,
                    "violation_rate": round(broken / n, 6) if n else 0.0,
                    # how often rows drawn from the two marginals alone break it: under
                    # AUTO_MIN_BREAK the relation may hold in REAL by chance (what
                    # --constraint auto leaves out too)
                    "marginals_break_share": round(marginal, 6),
                    "by_chance": bool(marginal < AUTO_MIN_BREAK)})
    out.sort(key=lambda e: (e["by_chance"], -e["violation_rate"], e["relation"]))
    return out[:limit]


def derived_report(real: pa.Table, synthetic: pa.Table, units: Mapping[str, float],
                   *, limit: int = 20, stats: RelationStats | None = None
                   ) -> list[dict[str, Any]]:
    """For each derived column of `real` (`RelationStats.derived` over the numeric columns
    `units` names, the first `MAX_RELATION_COLUMNS`, with their rounding units), the share
    of `synthetic` rows with both values whose target is off its source's line by more than
    the two columns' rounding (half a unit each) allows; worst first, at most `limit`.
    `stats`: `real_stats` of `real` over those columns, when already computed."""
    columns = [c for c in units if c in synthetic.column_names][:MAX_RELATION_COLUMNS]
    if stats is None or stats.names != columns:
        stats = real_stats(real, columns)
    found = stats.derived(units, schema=real.schema)
    if not found or not synthetic.num_rows:
        return []
    x = _numeric_matrix(synthetic, columns)
    pos = {name: i for i, name in enumerate(columns)}
    out = []
    for d in found:
        t, src = x[:, pos[d.target]], x[:, pos[d.source]]
        both = ~(np.isnan(t) | np.isnan(src))
        i, j = pos[d.target], pos[d.source]
        sd = np.sqrt(stats.pair_m2[i, j] / max(stats.both[i, j], 1))
        allowed = (0.5 * units[d.target] + 0.5 * abs(d.slope) * units[d.source]
                   or 1e-7 * sd) * (1 + 1e-9)
        off = int((np.abs(t[both] - d.values(src[both])) > allowed).sum())
        n = int(both.sum())
        out.append({"relation": str(d), "target": d.target, "source": d.source,
                    "real_rows": int(stats.both[i, j]), "synthetic_rows": n,
                    "off": off, "off_rate": round(off / n, 6) if n else 0.0})
    out.sort(key=lambda e: (-e["off_rate"], e["relation"]))
    return out[:limit]


def _loose_codes(table: pa.Table, specs) -> np.ndarray:
    """int [rows, len(specs)]: `table`'s codes of categorical columns `specs`, a null or a
    value outside the vocabulary as the null code (for reports on any table)."""
    import pyarrow.compute as pc

    from vae_augment.schema import canonical_zeros

    cols = []
    for s in specs:
        col = table.column(s.name).combine_chunks()
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        if pa.types.is_float16(col.type):  # index_in has no half-float kernel
            col = col.cast(pa.float32())
        col = canonical_zeros(col)  # -0.0 is the vocabulary's 0.0, not outside it
        try:
            idx = pc.index_in(col, value_set=canonical_zeros(pa.array(s.vocab, type=col.type)))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            idx = pa.nulls(len(col), pa.int32())
        cols.append(np.asarray(idx.fill_null(len(s.vocab)).to_numpy(zero_copy_only=False),
                               np.int64))
    return np.stack(cols, axis=1) if cols else np.zeros((table.num_rows, 0), np.int64)


def real_link_stats(real: pa.Table, synthetic: pa.Table, encoding) -> LinkStats | None:
    """`LinkStats` of `real` over `encoding`'s columns that both tables have (tolerant
    codes, `_loose_codes`): what `link_report` and `dependency_report` read; None when there
    is nothing to count."""
    def both(name):
        return name in real.column_names and name in synthetic.column_names

    numeric = [s.name for s in encoding.numeric if both(s.name)][:MAX_RELATION_COLUMNS]
    stats = link_columns(encoding, numeric, [s.name for s in encoding.categorical
                                             if both(s.name)])
    if stats is not None:
        specs = {s.name: s for s in encoding.categorical}
        stats.update(_numeric_matrix(real, stats.columns),
                     _loose_codes(real, [specs[c] for c in stats.categories]))
    return stats


def link_report(real: pa.Table, synthetic: pa.Table, encoding, *, limit: int = 20,
                stats: LinkStats | None = None) -> list[dict[str, Any]]:
    """For each linked pair of columns of `real` (`LinkStats.links` over `encoding`'s
    numeric and categorical columns), the share of `synthetic` rows (among those with the
    numeric value, for a spike value) that break it (the category value without the spike,
    or the spike without it), beside the real rows' share; worst first, at most `limit`.
    `stats`: `real_link_stats` of the two tables, when already computed."""
    stats = real_link_stats(real, synthetic, encoding) if stats is None else stats
    if stats is None or not synthetic.num_rows:
        return []
    specs = {s.name: s for s in encoding.categorical}
    cats = [specs[c] for c in stats.categories]
    found = stats.links({s.name: s.vocab or [] for s in cats})
    if not found:
        return []
    out = []
    for link in found:
        k = stats.categories.index(link.category)
        value = specs[link.category].vocab.index(link.value)
        i = next(j for j, (c, v) in enumerate(zip(stats.columns, stats.spikes))
                 if c == link.column and (v is None) == (link.spike is None))
        on, off = stats.counts[i, k, :, 0], stats.counts[i, k, :, 1]
        real_broken = int(on.sum() - on[value] + off[value])
        x = _numeric_matrix(synthetic, [link.column])[:, 0]
        code = _loose_codes(synthetic, [specs[link.category]])[:, 0]
        present = ~np.isnan(x) if link.spike is not None else np.ones(len(x), bool)
        hit = x[present] == link.spike if link.spike is not None else np.isnan(x)
        broken = int(((hit & (code[present] != value)) | (~hit & (code[present] == value))).sum())
        out.append({"link": str(link), "category": link.category, "column": link.column,
                    **_broken_counts(int(on.sum() + off.sum()), real_broken,
                                     int(present.sum()), broken)})
    out.sort(key=lambda e: (-e["broken_rate"], e["link"]))
    return out[:limit]


def _broken_counts(n_real: int, real_broken: int, n: int, broken: int) -> dict[str, Any]:
    """A report entry's rows and rows breaking the rule, real and synthetic, with shares."""
    return {"real_rows": n_real, "real_broken": real_broken,
            "real_broken_rate": round(real_broken / n_real, 6) if n_real else 0.0,
            "synthetic_rows": n, "broken": broken,
            "broken_rate": round(broken / n, 6) if n else 0.0}


def dependency_report(real: pa.Table, synthetic: pa.Table, encoding, *, limit: int = 20,
                      stats: LinkStats | None = None) -> list[dict[str, Any]]:
    """For each dependency between categorical columns of `real` (`LinkStats.dependencies`
    over `encoding`'s categorical columns), the share of `synthetic` rows whose column is
    not the value its determinant maps to (among rows whose determinant has a mapped
    value), beside the real rows' share; worst first, at most `limit`. `stats`:
    `real_link_stats` of the two tables, when already computed."""
    stats = real_link_stats(real, synthetic, encoding) if stats is None else stats
    if stats is None or not synthetic.num_rows:
        return []
    specs = {s.name: s for s in encoding.categorical}
    cats = [specs[c] for c in stats.categories]
    out = []
    for d in stats.dependencies({s.name: s.vocab or [] for s in cats}):
        col, det = specs[d.column], specs[d.determinant]
        table = np.full(det.n_categories + 1, -1, np.int64)
        for a, b in d.mapping:
            table[det.vocab.index(a)] = col.vocab.index(b)
        counts = {}
        for name, t in (("real", real), ("synthetic", synthetic)):
            codes = _loose_codes(t, [col, det])
            mapped = table[np.minimum(codes[:, 1], det.n_categories)]
            has = mapped >= 0
            counts[name] = (int(has.sum()), int((codes[has, 0] != mapped[has]).sum()))
        out.append({"dependency": str(d), "column": d.column, "determinant": d.determinant,
                    **_broken_counts(*counts["real"], *counts["synthetic"])})
    out.sort(key=lambda e: (-e["broken_rate"], e["dependency"]))
    return out[:limit]
