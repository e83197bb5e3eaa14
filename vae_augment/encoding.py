"""Arrow record batches <-> model tensors. One encoder and one decoder for every interface.

Model space (all rows of a batch, ``B``):

* ``num``   float32 [B, n_num]   numeric columns through a quantile-normal map (0 where null)
* ``nulls`` float32 [B, n_null]  1.0 where a numeric or tensor column is null; then, for
                                 each numeric column with a ``spike``, 1.0 where it holds it
* ``cat``   int32   [B, n_cat]   category codes (null is the last code when seen in training)
* ``tensor_i`` float32 [B, *shape, (1)]  tensor column i, scaled
* ``y``     int32   [B]          class index into ``classes``

`Encoding.encode` goes from Arrow to these arrays (NumPy); `Encoding.decode_tf` goes from
generated model-space tensors to column values with TensorFlow ops only (graph mode, used
by the sampler and by tf.data); `Encoding.to_arrow` builds record batches in the input schema.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.special import ndtri

from vae_augment.errors import NonFiniteError, SchemaError, columns_note, label_column, option
from vae_augment.io import array_without_view, output_schema, schema_without_views, without_views
from vae_augment.schema import (
    BOUNDED_LIKELIHOODS,
    COUNT_LIKELIHOODS,
    FLOAT_TENSORS,
    QUANTILE_KNOTS,
    FeatureSpec,
    _parse_image_shape,
    as_numbers,
    canonical_zeros,
    column_image_shape,
    from_numbers,
    numeric_storage,
)

__all__ = ["Encoding", "PROBIT_EPS"]

PROBIT_EPS = 1e-3
#: a class gets a null rule (`Encoding.class_null_rules`) when its rows' nulls (all, or none)
#: would have at most this probability at the other classes' null rate
CLASS_NULL_ALPHA = 1e-3


_STRINGS = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
_BINARIES = (pa.types.is_binary, pa.types.is_large_binary, pa.types.is_binary_view)


def _other_layout(t: pa.DataType, trained: pa.DataType) -> bool:
    """Whether a column of type `t` holds the values of a model's column of type `trained`
    in another layout: string, large_string or string_view for one of the others (binary
    likewise), or a dictionary of one of them (a pandas or Polars category) for another, or
    the reverse; an integer (float) of another width. pandas writes string, Polars and
    pandas 3 large_string, pyarrow a table of views string_view; Spark writes int32 where
    pandas writes int64: a model of one takes the others, and writes them back as they came
    (integers clipped to the narrower type's range)."""
    if t.equals(trained):
        return False
    if ((pa.types.is_integer(t) and pa.types.is_integer(trained))
            or (pa.types.is_floating(t) and pa.types.is_floating(trained)
                and not pa.types.is_float16(t))):
        return True  # another width (int32 for int64, float32 for float64)

    def values(x):
        return x.value_type if pa.types.is_dictionary(x) else x

    return any(any(k(values(t)) for k in kind) and any(k(values(trained)) for k in kind)
               for kind in (_STRINGS, _BINARIES))


def _lists_to_b64(lists: Mapping[str, pa.DataType]) -> str:
    """`Encoding.input_lists` for encoding.json: an Arrow schema of one field each, stored as
    `schema` is."""
    return _schema_to_b64(pa.schema([pa.field(n, t) for n, t in lists.items()]))


def _schema_to_b64(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def _schema_from_b64(text: str) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


def _json_value(v: Any) -> Any:
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return v


class Encoding:
    """The fitted encoding of one table: feature specs, label classes and the input schema.

    Args:
        specs: one `FeatureSpec` per non-label column, in schema order.
        label: the label column name.
        classes: the class values (sorted), as Python scalars.
        class_counts: rows per class seen while fitting.
        schema: the input Arrow schema (kept exactly for the output; a variable-length list
            tensor column as the fixed-size list it is trained as, `schema.trained_schema`).
        relations: `constraints.Relation`s between numeric columns (``left <= right``) that
            generated rows must satisfy (see `with_relations`).
        constraints: the request `relations` were resolved from (`ConstraintSpec.key`, e.g.
            ``("auto",)``), or None when they never were: `fit` keeps the relations of an
            encoding resolved from the same request instead of searching the data again.
        derived: `constraints.Derived` columns (``target = slope * source + intercept``)
            that `decode_tf` recomputes from their sources.
        links: `constraints.Link`s (a category value exactly where a numeric column holds
            its spike) that `decode_tf` sets each generated row's category by.
        dependencies: `constraints.Dependency`s (a categorical column a function of
            another) that `decode_tf` sets the determined column by.
        class_nulls: ``{column: null rows per class}`` (in `classes` order) of the columns
            that had nulls: a class whose rows a column is null in every time, or never,
            against the other classes' rate (`class_null_rules`), gets synthetic rows that
            are too (the model's heads alone left about 3 % of them otherwise).
        input_lists: ``{column: type}`` of the tensor columns the training data stored as a
            variable-length list (or large list), which `schema` records as fixed-size
            lists: `sample` writes them as those types (`sample_schema`), as the training
            data held them. Empty for an artifact saved before it was recorded: its samples
            keep the fixed-size type.
    """

    def __init__(
        self,
        specs: Sequence[FeatureSpec],
        label: str,
        classes: Sequence[Any],
        class_counts: Mapping[Any, int],
        schema: pa.Schema,
        relations: Sequence[Any] = (),
        constraints: Sequence[str] | None = None,
        derived: Sequence[Any] = (),
        links: Sequence[Any] = (),
        dependencies: Sequence[Any] = (),
        class_nulls: Mapping[str, Sequence[int]] | None = None,
        input_lists: Mapping[str, pa.DataType] | None = None,
        label_dictionary: Sequence[Any] | None = None,
    ):
        self.specs = list(specs)
        self.label = label
        self.classes = list(classes)
        # a dictionary label's input dictionary, when it differs from `classes` (an ordered
        # category's order, classes no row holds): the output's dictionary follows it
        self.label_dictionary = list(label_dictionary) if label_dictionary else None
        self.class_counts = {c: int(class_counts.get(c, 0)) for c in self.classes}
        self.class_nulls = {str(k): [int(n) for n in v] for k, v in (class_nulls or {}).items()
                            if len(v) == len(self.classes)}
        self.schema = schema
        self.output_schema = output_schema(schema)
        self.input_lists = {n: t for n, t in (input_lists or {}).items() if n in schema.names}
        self.numeric = [s for s in self.specs if s.kind == "numeric"]
        names = set(schema.names)  # each numeric column's trained type, for `encode`'s check
        self._numeric_types = [schema.field(s.name).type if s.name in names else None
                               for s in self.numeric]
        self.categorical = [s for s in self.specs if s.kind == "categorical"]
        self.tensors = [s for s in self.specs if s.kind == "tensor"]
        self.null_columns = [
            s.name for s in self.specs if s.kind in ("numeric", "tensor") and s.has_nulls
        ]
        # numeric columns with a spike indicator (slots after the null columns' in `nulls`)
        self.spike_columns = [s.name for s in self.numeric if s.spike is not None]
        self._class_index = {c: i for i, c in enumerate(self.classes)}
        # the map's knots per numeric column: a spike's run of knots collapsed to one (the
        # spike's rows are the indicator's, the rest keep the whole quantile-normal range)
        grids = [_collapse_spike(np.asarray(s.knots, np.float64), s.spike) for s in self.numeric]
        self._grid = [len(g) for g in grids]
        width = max(self._grid, default=QUANTILE_KNOTS)
        self._knots = (
            np.asarray([np.pad(g, (0, width - len(g)), mode="edge") for g in grids])
            if self.numeric
            else np.zeros((0, QUANTILE_KNOTS))
        )
        self._knot_tables = [_knot_inverse(g) for g in grids]
        from vae_augment.constraints import Relation

        self.relations = [r if isinstance(r, Relation) else Relation(
            r[0], r[1], tuple(r[2]) if len(r) > 2 else ()) for r in relations]
        num_pos = {s.name: j for j, s in enumerate(self.numeric)}
        # (left, right) numeric positions of each relation
        self._relation_idx = [(num_pos[r.left], num_pos[r.right]) for r in self.relations]
        self.constraints = None if constraints is None else tuple(constraints)
        from vae_augment.constraints import Derived

        self.derived = [d if isinstance(d, Derived) else Derived(d[0], d[1], float(d[2]),
                                                                  float(d[3])) for d in derived]
        # (target, source) numeric positions of each derived column
        self._derived_idx = [(num_pos[d.target], num_pos[d.source]) for d in self.derived]
        from vae_augment.constraints import Link

        self.links = [k if isinstance(k, Link) else Link(
            k[0], k[1], k[2], None if k[3] is None else float(k[3]), k[4]) for k in links]
        cat_pos = {s.name: j for j, s in enumerate(self.categorical)}
        # per categorical position: (numeric position, spike, value's code, other's code)
        def other_code(k):  # None: the null code
            spec = self.categorical[cat_pos[k.category]]
            return spec.null_code if k.other is None else spec.vocab.index(k.other)

        self._link_idx = {
            cat_pos[k.category]: (num_pos[k.column], k.spike,
                                  self.categorical[cat_pos[k.category]].vocab.index(k.value),
                                  other_code(k))
            for k in self.links}
        from vae_augment.constraints import Dependency

        self.dependencies = [d if isinstance(d, Dependency) else Dependency(
            d[0], d[1], tuple(tuple(p) for p in d[2])) for d in dependencies]
        # (determined position, determinant position, int32 table: determinant code ->
        # determined code, -1 where none: the determined column keeps its draw)
        self._dependency_idx = []
        for d in self.dependencies:
            col, det = self.categorical[cat_pos[d.column]], self.categorical[cat_pos[d.determinant]]
            table = np.full(det.n_categories, -1, np.int32)
            for a, b in d.mapping:
                table[det.vocab.index(a)] = col.vocab.index(b)
            self._dependency_idx.append((cat_pos[d.column], cat_pos[d.determinant], table))

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickling (a fitted VAEOverSampler's encoding, its `__dict__`) rebuilds the
        encoding from its constructor's arguments: one pickled by an earlier vae-augment
        lacks the attributes added since (relations, derived columns, class null rules,
        ...), which sampling failed on with AttributeError; missing ones are none, as in
        `from_json` of such an encoding's JSON."""
        self.__init__(
            state["specs"], state["label"], state["classes"], state["class_counts"],
            state["schema"], state.get("relations", ()), state.get("constraints"),
            state.get("derived", ()), state.get("links", ()), state.get("dependencies", ()),
            state.get("class_nulls"), state.get("input_lists"), state.get("label_dictionary"),
        )

    # ------------------------------------------------------------------ layout
    def layout(self) -> dict[str, Any]:
        """What the model needs to know about the encoded space (JSON-serialisable)."""
        out = {
            "n_num": len(self.numeric),
            "n_null": len(self.null_columns) + len(self.spike_columns),
            "cat_sizes": [s.n_categories for s in self.categorical],
            "tensors": [self._tensor_layout(s) for s in self.tensors],
            "n_classes": len(self.classes),
            # for numeric column j / tensor i: its slot in `nulls`, or -1
            "num_null_idx": [self._null_slot(s.name) for s in self.numeric],
            "tensor_null_idx": [self._null_slot(s.name) for s in self.tensors],
        }
        if self.spike_columns:  # (layouts without spikes are as they always were)
            # for numeric column j: its spike indicator's slot in `nulls`, or -1
            out["num_spike_idx"] = [self._spike_slot(s.name) for s in self.numeric]
            out["num_knots"] = list(self._grid)  # knots of each column's map
        null_rule, cat_rule = self.class_null_rules()
        if np.any(null_rule):  # (likewise: only when some class has one)
            out["class_null_rule"] = null_rule.tolist()
        if np.any(cat_rule):
            out["class_cat_null_rule"] = cat_rule.tolist()
        return out

    def class_null_rules(self) -> tuple[np.ndarray, np.ndarray]:
        """int8 [n_classes, n_null] and [n_classes, n_cat]: +1 where a class's rows are null
        in a column in every training row, -1 where in none, 0 elsewhere (and for the spike
        slots), for the columns of `null_columns` and the categorical columns with a null
        code. A class gets a rule only when the other classes' null rate makes its count
        unlikely by chance (`CLASS_NULL_ALPHA`: all n of its rows null at a rate p has
        probability p**n), and only with ``constraints`` "auto" (the default) or unknown."""
        n_classes = len(self.classes)
        null_rule = np.zeros((n_classes, len(self.null_columns) + len(self.spike_columns)), np.int8)
        cat_rule = np.zeros((n_classes, len(self.categorical)), np.int8)
        if self.constraints is not None and "auto" not in self.constraints:
            return null_rule, cat_rule
        rows = np.asarray([self.class_counts[c] for c in self.classes], np.float64)

        def rule(name):
            nulls = np.asarray(self.class_nulls.get(name, [0] * n_classes), np.float64)
            out = np.zeros(n_classes, np.int8)
            if not nulls.any():
                return out
            for c in range(n_classes):
                if rows[c] == 0:
                    continue
                rest = rows.sum() - rows[c]
                p = (nulls.sum() - nulls[c]) / rest if rest else 0.5
                if nulls[c] == rows[c] and p ** rows[c] < CLASS_NULL_ALPHA:
                    out[c] = 1
                elif nulls[c] == 0 and (1.0 - p) ** rows[c] < CLASS_NULL_ALPHA:
                    out[c] = -1
            return out

        for j, name in enumerate(self.null_columns):
            null_rule[:, j] = rule(name)
        for j, s in enumerate(self.categorical):
            if s.has_nulls:
                cat_rule[:, j] = rule(s.name)
        return null_rule, cat_rule

    def class_null_texts(self) -> list[str]:
        """`class_null_rules` in words (``"bonus is null where label == 'b'"``), for
        `fit`'s and `info`'s summaries."""
        null_rule, cat_rule = self.class_null_rules()
        columns = [*((n, null_rule[:, j]) for j, n in enumerate(self.null_columns)),
                   *((s.name, cat_rule[:, j]) for j, s in enumerate(self.categorical))]
        return [f"{name} is {'null' if r > 0 else 'never null'} where {self.label} == {c!r}"
                for name, rules in columns for c, r in zip(self.classes, rules) if r]

    @staticmethod
    def _tensor_layout(s: FeatureSpec) -> dict[str, Any]:
        entry = {"shape": list(s.shape), "likelihood": s.likelihood}
        if s.likelihood in COUNT_LIKELIHOODS:  # (older layouts have no such key)
            entry["total_count"] = int(round((s.high - s.low) * (s.steps or 1)))
        if s.draw:  # (likewise: only a Normal head drawn from has it)
            entry["draw"] = True
        return entry

    def with_float_tensors(self, mode: str) -> Encoding:
        """This encoding with its Normal-head tensor columns (float elements, wide-range
        integers) generated as `mode` says (self when nothing changes; never mutated):
        ``"draw"``, drawn from the head; ``"mean"``, the head's mean given z; ``"auto"``,
        drawn for 1-d tensors (embeddings: their mean keeps only the spread the latent code
        carries, 22-35 % of the real per-element SD on isotropic ones) and the mean for
        images (more than one axis), whose per-pixel noise would only speckle them."""
        if mode not in FLOAT_TENSORS:
            raise ValueError(f"`float_tensors` must be one of {list(FLOAT_TENSORS)}, "
                             f"got {mode!r}")
        want = {s.name: (mode == "draw" or (mode == "auto" and len(s.shape) == 1))
                for s in self.tensors if s.likelihood == "normal"}
        if all(bool(s.draw) == want[s.name] for s in self.tensors if s.name in want):
            return self
        data = self.to_json()
        for spec in data["features"]:
            if spec.get("name") in want and spec.get("kind") == "tensor":
                spec["draw"] = want[spec["name"]]
        return Encoding.from_json(data)

    def with_count_likelihood(self, likelihood: str) -> Encoding:
        """This encoding with `likelihood` ("binomial" or "beta_binomial") for its integer
        tensor columns over a bounded range (self when nothing changes; never mutated)."""
        if all(s.likelihood not in COUNT_LIKELIHOODS or s.likelihood == likelihood
               for s in self.tensors):
            return self
        data = self.to_json()
        for spec in data["features"]:
            if spec.get("kind") == "tensor" and spec.get("likelihood") in COUNT_LIKELIHOODS:
                spec["likelihood"] = likelihood
        return Encoding.from_json(data)

    def _null_slot(self, name: str) -> int:
        return self.null_columns.index(name) if name in self.null_columns else -1

    def _spike_slot(self, name: str) -> int:
        if name not in self.spike_columns:
            return -1
        return len(self.null_columns) + self.spike_columns.index(name)

    def with_spikes(self, share: float) -> Encoding:
        """This encoding with a spike indicator on each numeric column whose most frequent
        value holds at least `share` of its quantile knots (0: none; self when nothing
        changes; never mutated).

        A value most rows share (credit's `Debt` is 82 % zeros, churn's voice-mail messages
        74 %) is a spike the quantile-normal map can only put at one point, where the
        likelihood is a density. With an indicator the model draws it as a Bernoulli, as it
        draws nulls, and the column's other values get the map's whole range: a synthetic row
        holds the spike exactly or a value from the rest, never a Gaussian tail across the
        two.
        """
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"`share` must be in [0, 1], got {share}")
        spikes = [_largest_spike(np.asarray(s.knots, np.float64), share) if share > 0
                  else None for s in self.numeric]
        if spikes == [s.spike for s in self.numeric]:
            return self
        data = self.to_json()
        it = iter(spikes)
        for spec in data["features"]:
            if spec.get("kind") == "numeric":
                spec["spike"] = next(it)
        return Encoding.from_json(data)

    def with_rules(self, rules, constraints: Sequence[str] | None = None) -> Encoding:
        """This encoding with `rules` (`constraints.Rules`: relations, derived and linked
        columns, dependencies) resolved from the request `constraints`."""
        return self.with_relations(rules.relations, constraints, rules.derived, rules.links,
                                   rules.dependencies)

    def with_relations(self, relations: Sequence[Any],
                       constraints: Sequence[str] | None = None,
                       derived: Sequence[Any] = (), links: Sequence[Any] = (),
                       dependencies: Sequence[Any] = ()) -> Encoding:
        """This encoding with `relations` (``constraints.Relation``, left <= right, between
        numeric columns) that `decode_tf` and `constraints.constrained_generate` enforce,
        `derived` columns (``constraints.Derived``) that `decode_tf` recomputes and `links`
        (``constraints.Link``) it sets categories by, resolved from the request
        `constraints` (`ConstraintSpec.key`; None: unknown)."""
        data = self.to_json()
        data["relations"] = [[r.left, r.right, list(r.ties)] for r in relations]
        data["derived"] = [[d.target, d.source, d.slope, d.intercept] for d in derived]
        data["links"] = [_link_json(k) for k in links]
        data["dependencies"] = [_dependency_json(d) for d in dependencies]
        data.pop("constraints", None)
        if constraints is not None:
            data["constraints"] = list(constraints)
        return Encoding.from_json(data)

    def relation_ties(self) -> np.ndarray:
        """float32 [n_classes, n_relations]: each relation's tie share per class (0 where
        none is known)."""
        out = np.zeros((len(self.classes), len(self.relations)), np.float32)
        for k, r in enumerate(self.relations):
            if len(r.ties) == len(self.classes):
                out[:, k] = r.ties
        return out

    def class_index(self, value: Any) -> int:
        """The index of class `value`; accepts the value, its string form, a NumPy scalar
        or UTF-8 bytes (``b"yes"``, as a tf.data stream's labels hold them)."""
        return class_position(value, self.classes, self._class_index)

    # ------------------------------------------------------------------ encode
    def encode(
        self,
        batch: pa.RecordBatch | pa.Table,
        *,
        with_label: bool = True,
        float_dtype=np.float32,
        extrapolate: bool = False,
    ) -> dict[str, np.ndarray]:
        """Encodes a batch into model-space arrays.

        Rows whose label is null are dropped when `with_label` is true. `float_dtype`
        float64 keeps full precision (the model itself takes float32). A numeric value
        outside the column's training range is encoded as the range's end, unless
        `extrapolate` (anomaly scores, latent encodings): then the map goes on past the end
        on the normal scale at the slope of the column's outer 5 % of knots, so a value's
        score keeps growing with its distance from the range, up to `EXTRAPOLATION_CAP`
        on the normal scale (values further out encode alike). A column constant in training
        goes on at one rounding unit of it per normal sd; a value in a column that was null in
        every training row is then an error.

        Raises:
            SchemaError: a column is missing, has the wrong type, or holds a category the
                model never saw.
        """
        if isinstance(batch, pa.RecordBatch):
            batch = pa.Table.from_batches([batch])
        batch = without_views(batch)  # few Arrow kernels take string views
        for s in self.specs:
            if s.kind != "excluded" and s.name not in batch.column_names:
                raise SchemaError(
                    f"column '{s.name}' is missing from the data; the model was trained on "
                    f"{[x.name for x in self.specs]}"
                )
        if with_label:
            if self.label not in batch.column_names:
                raise SchemaError(self.label_not_found(batch.column_names))
            valid = label_validity(batch.column(self.label))
            if not valid.all():
                batch = batch.filter(pa.array(valid))
        n = batch.num_rows
        out: dict[str, np.ndarray] = {}
        num = np.zeros((n, len(self.numeric)), float_dtype)
        nulls = np.zeros((n, len(self.null_columns) + len(self.spike_columns)), np.float32)
        null_pos = {name: i for i, name in enumerate(self.null_columns)}
        for j, s in enumerate(self.numeric):
            col = _combine(batch.column(s.name))
            want = self._numeric_types[j]
            if numeric_storage(col.type) is not None or (
                    want is not None and numeric_storage(want) is not None):  # a time, decimal
                if want is not None and not col.type.equals(want):  # days as milliseconds
                    raise SchemaError(f"column '{s.name}' has type {col.type}; the model was "
                                      f"trained on {want}")
                col = as_numbers(col)
            if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
                raise SchemaError(f"column '{s.name}' has type {col.type}; the model expects numbers")
            mask = _null_mask(col)
            values = col.fill_null(0).to_numpy(zero_copy_only=False).astype(np.float64)
            finite = np.isfinite(values)
            if not finite.all():
                raise NonFiniteError(f"column '{s.name}' contains NaN or ±inf "
                                     f"({_rows_note(~finite)})", s.name)
            num[:, j] = np.where(mask, 0.0, self._forward(j, values, extrapolate))
            if s.spike is not None:  # the indicator holds it; 0 as for a null
                hit = ~mask & (values == s.spike)
                num[hit, j] = 0.0
                nulls[:, self._spike_slot(s.name)] = hit
            if mask.any():
                if s.name not in null_pos:
                    raise SchemaError(
                        f"column '{s.name}' has nulls but had none when the model was trained "
                        f"({_rows_note(mask)})"
                    )
            if s.name in null_pos:
                nulls[:, null_pos[s.name]] = mask
        cat = np.zeros((n, len(self.categorical)), np.int32)
        for j, s in enumerate(self.categorical):
            cat[:, j] = self._encode_categorical(s, _combine(batch.column(s.name)))
        out["num"] = num
        out["nulls"] = nulls
        out["cat"] = cat
        for i, s in enumerate(self.tensors):
            col = _combine(batch.column(s.name))
            mask = _null_mask(col)
            stored = col.type  # an arrow.fixed_shape_tensor's messages name it, not its storage
            if isinstance(col, pa.ExtensionArray):
                col = col.storage
            size = int(np.prod(s.shape))
            _check_tensor_sizes(s.name, col, size, shown=stored)
            problem = _tensor_shape_problem(s, batch.schema.field(s.name), batch.schema)
            if problem is not None:
                raise SchemaError(problem)
            if mask.any() and s.name not in null_pos:  # as a number's: not a zero image
                raise SchemaError(f"column '{s.name}' has nulls but had none when the model "
                                  f"was trained ({_rows_note(mask)})")
            flat = col.fill_null(pa.scalar([0] * size, col.type)) if col.null_count else col
            values = flat.flatten().to_numpy(zero_copy_only=False).astype(np.float64)
            values = values.reshape((n, size))
            scaled = self._scale_tensor(s, values).astype(float_dtype)
            out[f"tensor_{i}"] = scaled.reshape((n, *self._model_shape(s)))
            if s.name in null_pos:
                nulls[:, null_pos[s.name]] = mask
        if extrapolate:  # scores and latents: a value the model has no term for is no row
            # it can judge (scored as if null until session 50)
            for s in self.specs:
                if s.kind == "null" and s.name in batch.column_names:
                    col = _combine(batch.column(s.name))
                    if col.null_count < len(col):
                        raise SchemaError(
                            f"column '{s.name}' has values but was null in every training row "
                            f"({_rows_note(~_null_mask(col))})")
        if with_label:
            out["y"] = self._encode_label(_combine(batch.column(self.label)))
        return out

    def label_not_found(self, names) -> str:
        """The message for tables (columns `names`) without the model's label column; when
        most of the model's other columns are missing too, the likelier cause is another
        table's model, and it says so."""
        names = list(names)
        msg = (f"{label_column(self.label, model=True)} not found. "
               f"Columns: {columns_note(names)}")
        wanted = [s.name for s in self.specs if s.kind != "excluded"]
        gone = [n for n in wanted if n not in set(names)]
        if wanted and 2 * len(gone) > len(wanted):
            some = ", ".join(f"'{n}'" for n in gone[:3]) + (", ..." if len(gone) > 3 else "")
            how = ("is any" if len(gone) == len(wanted)
                   else f"are {len(gone)}")
            msg += (f". Nor {how} of the model's {len(wanted)} other columns ({some}): is "
                    f"this another table's model?")
        return msg

    def type_problem(self, schema: pa.Schema, *, label: bool = True) -> str | None:
        """The first column (named) of tables of `schema` that `encode` would refuse whole: a
        modelled column or the label missing, or of a type it cannot take; None when every
        one can be encoded. Looser than the training schema, as `encode` is: any integer or
        float type for a numeric column, any type the vocabulary casts to (dictionary or
        not, string, large string or string view) for a categorical one; nulls are checked
        per row."""
        schema = schema_without_views(schema)  # as `encode` reads them
        for s in self.specs:
            if s.kind in ("excluded", "null"):
                continue
            if s.name not in schema.names:
                return f"column '{s.name}' is missing"
            t = schema.field(s.name).type
            if s.kind == "numeric" and not (pa.types.is_integer(t) or pa.types.is_floating(t)):
                return f"column '{s.name}' has type {t}; the model expects numbers"
            if s.kind == "categorical" and not _casts(s.vocab or [], t):
                return (f"column '{s.name}' has type {t}, which does not match the model's "
                        f"categories (type {self.schema.field(s.name).type})")
            if s.kind == "tensor":
                # as `encode` takes it: a variable-length list too, its rows' lengths
                # checked per row (a row of another length is that row's fault)
                storage = t.storage_type if isinstance(t, pa.BaseExtensionType) else t
                size = int(np.prod(s.shape))
                if not _takes_tensor_type(storage, size):
                    return _tensor_type_message(s.name, t, size)
                problem = _tensor_shape_problem(s, schema.field(s.name), schema)
                if problem is not None:
                    return problem
        if not label:  # marginal anomaly scores: the label is not read
            return None
        if self.label not in schema.names:
            return self.label_not_found(schema.names)
        t = schema.field(self.label).type
        if not _casts(self.classes, t):
            return (f"{label_column(self.label, model=True)} has type {t}, which does not match the "
                    f"model's classes {list(self.classes)}")
        return None

    def list_tensors(self, schema: pa.Schema) -> dict[str, pa.DataType]:
        """The tensor columns `schema` stores in another type than the model was fitted on,
        holding its values (of the same value type): a variable-length list (or large list),
        or, for a fixed-size list of the same size, an `arrow.fixed_shape_tensor` over one,
        or the reverse (exporters write either, and `encode` reads either): ``{name: the
        type in schema}``. `balance` with a model and the privacy reference take them as the
        model's type, the lists' rows' lengths checked by `check_list_tensors`; `as_trained`
        gives the schema to compare; outputs are cast back (`as_list_types`). Also the
        string (binary) columns `schema` holds in another layout than the model's
        (`_other_layout`: string, large_string, string_view, or a dictionary of one).

        A `SchemaError` when a tensor column of `schema` declares a shape of two axes or more
        that the model's is not (`_tensor_shape_problem`, as `encode` refuses it): its rows
        would be balanced with synthetic rows of another layout."""
        out = {}
        for s in self.tensors:
            if s.name not in schema.names or s.name not in self.schema.names:
                continue
            problem = _tensor_shape_problem(s, schema.field(s.name), schema)
            if problem is not None:
                raise SchemaError(problem)
            t, want = schema.field(s.name).type, self.schema.field(s.name).type
            if t.equals(want):
                continue
            want = want.storage_type if isinstance(want, pa.BaseExtensionType) else want
            have = t.storage_type if isinstance(t, pa.BaseExtensionType) else t
            if not (pa.types.is_fixed_size_list(want) and _is_list(have)
                    and have.value_type.equals(want.value_type)):
                continue
            if not pa.types.is_fixed_size_list(have) or have.list_size == want.list_size:
                out[s.name] = t
        # strings of another layout than the model's (string, large_string, string_view, a
        # dictionary of one; binary likewise): views are read as large types
        # (`io.without_views`); each is written back as it came
        for f in schema:
            if f.name in self.schema.names and _other_layout(f.type,
                                                            self.schema.field(f.name).type):
                out[f.name] = f.type
        return out

    def as_trained(self, schema: pa.Schema) -> pa.Schema:
        """`schema` with its `list_tensors` columns of the training type (their nullability
        and metadata kept): what `io.schema_difference` compares with the training schema."""
        lists = self.list_tensors(schema)
        if not lists:
            return schema
        return pa.schema([f.with_type(self.schema.field(f.name).type) if f.name in lists else f
                          for f in schema], metadata=schema.metadata)

    def null_conflict(self, schema: pa.Schema) -> str | None:
        """What stops this model's rows from going into a table of `schema` as that table
        declares its fields, else None: a field declared not nullable where the model
        generates nulls (its training rows had some, or the column is excluded). A field's
        nullability may otherwise differ from the training data's: the output keeps the
        input's."""
        specs = {s.name: s for s in self.specs}
        for f in schema:
            spec = specs.get(f.name)
            if not f.nullable and spec is not None and spec.has_nulls:
                why = ("is excluded, so synthetic rows hold nulls in it" if spec.kind == "excluded"
                       else "held nulls in the model's training data, so synthetic rows may too")
                return (f"column '{f.name}' is not nullable in the input, but it {why}; make "
                        f"the field nullable, or use a model trained on data without nulls in it")
        return None

    def with_list_types(self, schema: pa.Schema, lists: Mapping[str, pa.DataType]) -> pa.Schema:
        """`schema` (the training or output schema) with the columns `lists` (from
        `list_tensors`) of those list types: what is written for such an input."""
        return pa.schema([f.with_type(lists[f.name]) if f.name in lists else f for f in schema],
                         metadata=schema.metadata)

    @property
    def sample_schema(self) -> pa.Schema:
        """The schema `sample` writes: `output_schema` with the `input_lists` columns of the
        list types the training data held them as (`as_sampled` casts a generated batch)."""
        return self.with_list_types(self.output_schema, self.input_lists)

    def with_input_lists(self, lists: Mapping[str, pa.DataType]) -> Encoding:
        """This encoding with `lists` (`list_tensors` of the data a model is trained on) as
        its `input_lists` (self when they are already; never mutated): an encoding fitted
        on one copy of the data and given to `fit` with another, of other list types."""
        lists = {n: t for n, t in lists.items() if n in self.schema.names}
        if lists == self.input_lists:
            return self
        data = self.to_json()
        data.pop("input_lists", None)
        if lists:
            data["input_lists"] = _lists_to_b64(lists)
        return Encoding.from_json(data)

    def as_sampled(self, batch):
        """A generated batch or table (`output_schema`) in `sample_schema`."""
        return self.as_list_types(batch, self.input_lists) if self.input_lists else batch

    @staticmethod
    def as_list_types(batch, lists: Mapping[str, pa.DataType]):
        """A generated batch or table with its `lists` tensor columns (fixed-size lists, or
        extension types over them) cast to those variable-length list types."""
        for name, typ in lists.items():
            i = batch.schema.get_field_index(name)
            col = batch.column(i)
            if isinstance(col, pa.ChunkedArray):
                col = col.combine_chunks()
            col = col.storage if isinstance(col, pa.ExtensionArray) else col
            if pa.types.is_dictionary(col.type) and not pa.types.is_dictionary(typ):
                col = col.dictionary_decode()  # no cast from a dictionary to a view
            if pa.types.is_integer(col.type) and pa.types.is_integer(typ):
                col = _clipped_to(col, typ)
            col = col.cast(typ)
            batch = batch.set_column(i, batch.schema.field(i).with_type(typ), col)
        return batch

    def check_list_tensors(self, batch, lists: Mapping[str, pa.DataType],
                           first_row: int = 0) -> None:
        """A `SchemaError` naming the column and the row (`first_row`: the batch's first
        row's position in the input) unless every row of `batch`'s `lists` columns holds
        the model's number of values."""
        for s in self.tensors:
            if s.name in lists:
                _check_tensor_sizes(s.name, _combine(batch.column(s.name)),
                                    int(np.prod(s.shape)), first_row=first_row)

    def label_index(self, col: pa.Array) -> tuple[pa.Array, pa.Array]:
        """(the label column as compared, each row's class index: null for a null or
        unknown label)."""
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        col = canonical_zeros(array_without_view(col))
        try:
            vocab = canonical_zeros(pa.array(self.classes, type=col.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError,
                OverflowError) as exc:
            raise SchemaError(
                f"{label_column(self.label, model=True)} has type {col.type}, which does not match the "
                f"model's classes {list(self.classes)}") from exc
        return col, pc.index_in(col, value_set=vocab)

    def _encode_label(self, col: pa.Array) -> np.ndarray:
        col, idx = self.label_index(col)
        if idx.null_count:
            unknown = pc.filter(col, pc.is_null(idx)).unique().to_pylist()[:5]
            raise SchemaError(
                f"{label_column(self.label, model=True)} has classes {unknown} the model was not "
                f"trained on (known: {self.classes})"
            )
        return idx.to_numpy(zero_copy_only=False).astype(np.int32)

    def _encode_categorical(self, s: FeatureSpec, col: pa.Array) -> np.ndarray:
        if pa.types.is_dictionary(col.type):
            col = col.dictionary_decode()
        col = array_without_view(col)
        try:
            vocab = canonical_zeros(pa.array(s.vocab, type=col.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise SchemaError(
                f"column '{s.name}' has type {col.type}, which does not match the model's "
                f"categories {s.vocab[:5]}"
            ) from exc
        col = canonical_zeros(col)
        idx = pc.index_in(col, value_set=vocab)
        is_null = _null_mask(col)
        unknown = _null_mask(idx) & ~is_null
        if unknown.any():
            bad = pc.filter(col, pa.array(unknown)).unique().to_pylist()[:5]
            hint = (f"; an integer column with few values is modelled as a category: fit with "
                    f"{option('numeric', s.name, many=True)} to model it as a number"
                    if s.is_int else "")
            raise SchemaError(
                f"column '{s.name}' has categories {bad} the model was not trained on "
                f"({_rows_note(unknown)}){hint}"
            )
        if is_null.any() and not s.has_nulls:
            raise SchemaError(f"column '{s.name}' has nulls but had none when the model was "
                              f"trained ({_rows_note(is_null)})")
        codes = idx.fill_null(s.null_code).to_numpy(zero_copy_only=False).astype(np.int32)
        return codes

    def tie_halfwidths(self) -> np.ndarray | None:
        """Where tied values sit on the quantile-normal scale, for dequantization in training.

        A value that fills several quantile knots (an integer column's, a rounded float's, a
        zero-inflated column's zeros) owns the interval [first, last] of knot positions, and
        `encode` maps it to the interval's midpoint: a spike where the likelihood is a
        density. Training spreads it uniformly over the interval instead (uniform
        dequantization: `distributions.dequantize_numeric`), and decoding maps every point of
        the interval back to the value, so the model's draws keep the column's values.

        Returns a float32 [n_numeric, 2 K - 1] table, K the knot count: at index first + last
        (twice the midpoint's knot position) a tied value's half-width (last - first) / 2 in
        probability units, 0 elsewhere; None when no numeric column has a tie. A column with
        a spike indicator counts positions on its collapsed grid (layout ``num_knots``).
        """
        table = np.zeros((len(self.numeric), 2 * QUANTILE_KNOTS - 1), np.float32)
        for j, (s, (_, p_first, p_last)) in enumerate(zip(self.numeric, self._knot_tables)):
            k = self._grid[j]
            if len(s.knots) != QUANTILE_KNOTS or k < 2:
                continue
            first = np.rint(p_first * (k - 1)).astype(np.int64)
            last = np.rint(p_last * (k - 1)).astype(np.int64)
            tied = last > first
            table[j, first[tied] + last[tied]] = (last[tied] - first[tied]) / (2.0 * (k - 1))
        return table if table.any() else None

    def _forward(self, j: int, x: np.ndarray, extrapolate: bool = False) -> np.ndarray:
        """Quantile-normal map of numeric column j (exact inverse of `decode_tf`'s map); with
        `extrapolate`, linear past the knots' ends (see `encode`)."""
        table = self._knot_tables[j]
        z = ndtri(PROBIT_EPS + (1.0 - 2.0 * PROBIT_EPS) * _knot_forward(table, x))
        values = table[0]
        if not extrapolate or len(values) == 0:
            return z
        if len(values) == 1:  # a column constant in training: every value mapped to its z,
            # so 1e9 scored as the constant did; a unit (its rounding) per normal sd instead
            unit = self.numeric[j].rounding_unit or 1e-6 * max(abs(float(values[0])), 1.0)
            off = (x - values[0]) / unit
            return np.where(off != 0, np.clip(z + off, -EXTRAPOLATION_CAP, EXTRAPOLATION_CAP), z)
        low, high = x < values[0], x > values[-1]
        if low.any() or high.any():
            inner = max(1, (len(values) - 1) // 20)  # the outer 5 % of the knots
            ends = np.array([values[0], values[inner], values[-1 - inner], values[-1]])
            ze = ndtri(PROBIT_EPS + (1.0 - 2.0 * PROBIT_EPS) * _knot_forward(table, ends))
            z = np.where(low, ze[0] - (values[0] - x) * (ze[1] - ze[0]) / (ends[1] - ends[0]), z)
            z = np.where(high, ze[3] + (x - values[-1]) * (ze[3] - ze[2]) / (ends[3] - ends[2]),
                         z)
            # 10,000 standard deviations out already scores about 5e7 nats: the cap keeps
            # the encoder's float32 arithmetic finite for any finite input
            z = np.clip(z, -EXTRAPOLATION_CAP, EXTRAPOLATION_CAP)
        return z

    @staticmethod
    def _model_shape(s: FeatureSpec) -> list[int]:
        shape = list(s.shape)
        return shape + [1] if len(shape) == 2 else shape

    @staticmethod
    def _scale_tensor(s: FeatureSpec, values: np.ndarray) -> np.ndarray:
        if s.likelihood in BOUNDED_LIKELIHOODS:
            span = max(s.high - s.low, 1e-12)
            return (values - s.low) / span
        return (values - np.asarray(s.mean)) / np.asarray(s.std)

    # ------------------------------------------------------------------ decode (TF graph)
    def decode_tf(self, gen: Mapping[str, Any]) -> dict[str, Any]:
        """Model-space samples -> per-column values, with TensorFlow ops only.

        Args:
            gen: ``num`` (float [B, n_num]), ``nulls`` (bool/float [B, n_null]), ``cat``
                (int [B, n_cat]) and ``tensor_i`` (float, scaled) tensors.

        Returns:
            A dict ``{column: (values, null_mask)}``: numeric values as float64 (rounded for
            int columns, and to `FeatureSpec.decimals` places for float columns), categorical
            values as int32 codes, tensors as float64 of the flat size, and a boolean null
            mask (or None when the column never had nulls).
        """
        import tensorflow as tf

        out: dict[str, Any] = {}
        null_pos = {name: i for i, name in enumerate(self.null_columns)}
        nulls = gen.get("nulls")

        def mask_of(name):
            if name not in null_pos:
                return None
            return tf.cast(nulls[:, null_pos[name]], tf.bool)

        if self.numeric:
            x = self._repair_tf(*self._numeric_tf(gen, absent=bool(self._relation_idx)),
                                edge=gen.get("edge"))
            cols = tf.unstack(x, axis=1)
            masks = {s.name: mask_of(s.name) for s in self.numeric}
            for d, (t, j) in zip(self.derived, self._derived_idx):
                cols[t] = self._on_grid(self.numeric[t], d.slope * cols[j] + d.intercept)
                masks[d.target] = masks[d.source]  # null where the source is, as in training
            for s, col in zip(self.numeric, cols):
                out[s.name] = (col, masks[s.name])
        codes = {}
        for j in range(len(self.categorical)):
            code = tf.cast(gen["cat"][:, j], tf.int32)
            if j in self._link_idx:  # the category set from its linked numeric column
                t, spike, value, other = self._link_idx[j]
                col, mask = out[self.numeric[t].name]
                if spike is None:  # the category goes with the column's nulls
                    on = tf.zeros_like(code, tf.bool) if mask is None else mask
                else:
                    on = tf.abs(col - spike) <= 1e-9 * max(1.0, abs(spike))
                off = tf.logical_and(tf.logical_not(on), tf.equal(code, value))
                fixed = tf.where(on, value, tf.where(off, other, code))
                code = (fixed if mask is None or spike is None
                        else tf.where(mask, code, fixed))  # a null value: as drawn
            codes[j] = code
        for j, d, table in self._dependency_idx:  # after the links: a determinant may be one
            mapped = tf.gather(tf.constant(table), codes[d])
            codes[j] = tf.where(mapped >= 0, mapped, codes[j])
        for j, s in enumerate(self.categorical):
            out[s.name] = (codes[j], None)
        for i, s in enumerate(self.tensors):
            t = tf.cast(gen[f"tensor_{i}"], tf.float64)
            size = int(np.prod(s.shape))
            t = tf.reshape(t, [-1, size])
            if s.likelihood in BOUNDED_LIKELIHOODS:
                t = s.low + tf.clip_by_value(t, 0.0, 1.0) * (s.high - s.low)
            else:  # within the observed range, as numeric columns are (a constant stays one)
                t = tf.clip_by_value(
                    t * tf.constant(s.std, tf.float64) + tf.constant(s.mean, tf.float64),
                    s.low, s.high)
            if s.is_int:
                t = tf.clip_by_value(tf.round(t), s.low, s.high)
            elif s.steps:  # a float grid (scaled pixels): on it, as the real values are
                t = tf.clip_by_value(tf.round(t * s.steps) / s.steps, s.low, s.high)
            out[s.name] = (t, mask_of(s.name))
        return out

    @staticmethod
    def _on_grid(spec: FeatureSpec, x):
        """Values `x` of numeric column `spec` on its grid: rounded for an int column, to its
        `decimals` for a float column observed with them (as `_numeric_tf` decodes)."""
        import tensorflow as tf

        if spec.unit:
            off = float(spec.unit_offset or 0)
            return tf.round((x - off) / spec.unit) * spec.unit + off
        if spec.is_int:
            return tf.round(x)
        if spec.decimals is None:
            return x
        scale = float(10**spec.decimals)
        x = tf.round(x * scale) / scale
        # a line's small negative values round to -0.0 (churn's intl minutes, derived from
        # a charge of 0 with an intercept of -0.0027): written as 0.0, as the data holds it
        return tf.where(tf.equal(x, 0.0), tf.zeros_like(x), x)

    def _numeric_tf(self, gen: Mapping[str, Any], *, absent: bool = True,
                    cols: Sequence[int] | None = None):
        """(values float64 [B, n_num], absent bool [B, n_num] or None): the numeric columns
        of model-space samples `gen` as `decode_tf` returns them, before `_repair_tf`;
        `absent` marks the null cells (None when no column has nulls, or not asked for).
        `cols`: only these numeric columns (positions), in this order."""
        import tensorflow as tf

        cols = list(range(len(self.numeric))) if cols is None else list(cols)
        specs = [self.numeric[j] for j in cols]
        grid = [self._grid[j] for j in cols]
        nulls = gen.get("nulls")
        v = tf.cast(gen["num"] if cols == list(range(len(self.numeric)))
                    else tf.gather(gen["num"], cols, axis=1), tf.float64)
        u = (0.5 * tf.math.erfc(-v / np.sqrt(2.0)) - PROBIT_EPS) / (1.0 - 2.0 * PROBIT_EPS)
        u = tf.clip_by_value(u, 0.0, 1.0)
        if len(set(grid)) == 1:  # one knot count (no spike indicator)
            steps = grid[0] - 1.0
            top = max(steps - 1.0, 0.0)
        else:  # K - 1 per column
            steps = tf.constant([g - 1.0 for g in grid], tf.float64)
            top = tf.maximum(steps - 1.0, 0.0)
        pos = u * steps
        lo = tf.clip_by_value(tf.floor(pos), 0.0, top)
        frac = pos - lo
        # one gather from the flattened [n_cols * K] knots at [B, n_cols] (no transposes)
        n_knots = self._knots.shape[1]
        flat = tf.constant(self._knots[cols].reshape(-1), tf.float64)
        offsets = tf.constant(np.arange(len(cols), dtype=np.int32) * n_knots)
        idx = tf.cast(lo, tf.int32) + offsets
        x0 = tf.gather(flat, idx)
        x1 = tf.gather(flat, idx + 1)
        x = x0 + frac * (x1 - x0)
        # int columns: round(x); float columns: round(x * 10^decimals) / 10^decimals, the
        # precision the column was observed with (all columns at once; x * 1 / 1 is exact)
        scales = [  # a time column with a `unit`: round(x / unit) * unit
            1.0 / s.unit if s.unit else
            1.0 if s.is_int or s.decimals is None else float(10**s.decimals)
            for s in specs
        ]
        rounds = [s.is_int or s.decimals is not None for s in specs]
        offsets = [float(s.unit_offset or 0) if s.unit else 0.0 for s in specs]
        if any(offsets):  # a time grid off the epoch's (local hours, Mondays): x - 0 is x
            offsets = tf.constant(offsets, tf.float64)
            x = x - offsets
        if all(rounds):
            x = tf.round(x * scales) / scales
        elif any(rounds):
            x = tf.where(tf.constant(rounds), tf.round(x * scales) / scales, x)
        if isinstance(offsets, tf.Tensor):
            x = x + offsets
        if self.spike_columns:  # the indicator's rows hold the spike itself
            slots = [self._spike_slot(s.name) for s in specs]
            if any(i >= 0 for i in slots):
                hit = tf.gather(tf.cast(nulls, tf.float64), [max(i, 0) for i in slots], axis=1)
                hit = tf.logical_and(hit > 0.5, tf.constant([i >= 0 for i in slots])[None, :])
                spike = tf.constant([0.0 if s.spike is None else s.spike for s in specs],
                                    tf.float64)
                x = tf.where(hit, spike[None, :], x)
        slots = [self._null_slot(s.name) for s in specs]
        if not absent or all(i < 0 for i in slots):
            return x, None
        return x, tf.logical_and(
            tf.gather(tf.cast(nulls, tf.float64), [max(i, 0) for i in slots], axis=1) > 0.5,
            tf.constant([i >= 0 for i in slots])[None, :])

    def _relation_sides(self, x, absent, pairs=None):
        """(left, right, present), each [B, n_relations]: the relations' two values and
        whether both are there; `pairs`: the relations' (left, right) columns in `x` (the
        numeric positions when None)."""
        import tensorflow as tf

        pairs = self._relation_idx if pairs is None else pairs
        lefts = [i for i, _ in pairs]
        rights = [j for _, j in pairs]
        left, right = tf.gather(x, lefts, axis=1), tf.gather(x, rights, axis=1)
        if absent is None:
            return left, right, tf.ones_like(left, tf.bool)
        present = tf.logical_not(tf.logical_or(tf.gather(absent, lefts, axis=1),
                                               tf.gather(absent, rights, axis=1)))
        return left, right, present

    def _repair_tf(self, x, absent, edge=None):
        """`x` ([B, n_num] numeric values) with every relation's left value lowered to its
        right value where it is higher (and neither is null), and raised to it where `edge`
        (bool [B, n_relations], `constraints.nearest_to_edge`) marks the row, on the left
        column's grid (an
        int column takes the floor of a float right value; a right value under an int left
        column's smallest observed value raised to it first); as many sweeps as the longest
        chain of relations (a <= b <= c) needs to hold end to end."""
        import tensorflow as tf

        if not self._relation_idx:
            return x
        n = len(self.numeric)
        grid = np.array([1.0 if s.is_int else 0.0 if s.decimals is None
                         else float(10**s.decimals) for s in self.numeric])
        lefts = np.array([i for i, _ in self._relation_idx])
        rights = np.array([j for _, j in self._relation_idx])
        step = tf.constant(np.where(grid[lefts] > 0, grid[lefts], 1.0), tf.float64)
        snap = tf.constant(grid[lefts] > 0)
        # [R, n]: relation r lowers column lefts[r]
        owner = tf.constant(lefts[:, None] == np.arange(n)[None, :])
        # an integer left column is clipped to its observed extremes when written: a right
        # value under the left's smallest is raised to it (a training row with both held
        # right >= left >= that), else the lowered left would be clipped back over it
        lows = np.array([-np.inf if self.numeric[i].int_low is None
                         else float(self.numeric[i].int_low) for i in lefts])
        lift_any = bool(np.isfinite(lows).any())
        low = tf.constant(lows, tf.float64)
        lifts = tf.constant(rights[:, None] == np.arange(n)[None, :])  # r raises rights[r]
        if edge is not None:  # marked rows: the left value raised to the right one (then
            # capped on the left column's grid by the sweeps below, as a breaking row is)
            left, right, present = self._relation_sides(x, absent)
            mark = tf.logical_and(present, tf.cast(edge, tf.bool))
            neg = tf.constant(-np.inf, tf.float64)
            up = tf.reduce_max(tf.where(owner[None], tf.where(mark, right, neg)[:, :, None],
                                        neg), axis=1)  # [B, n]
            x = tf.maximum(x, up)
        for _ in range(_chain_depth(self._relation_idx)):
            left, right, present = self._relation_sides(x, absent)
            if lift_any:
                floor = tf.where(present, low[None, :], tf.constant(-np.inf, tf.float64))
                x = tf.maximum(x, tf.reduce_max(tf.where(
                    lifts[None], floor[:, :, None], tf.constant(-np.inf, tf.float64)), axis=1))
                left, right, present = self._relation_sides(x, absent)
            # the floor on the left column's grid; a value already on it (40.12 * 100 is
            # 4011.9999999999995 in float64) keeps its step instead of losing one
            scaled = right * step
            near = tf.round(scaled)
            on_grid = tf.abs(scaled - near) <= 1e-9 * tf.maximum(tf.abs(scaled), 1.0)
            right = tf.where(snap, tf.where(on_grid, near, tf.floor(scaled)) / step, right)
            cap = tf.where(tf.logical_and(present, left > right), right,
                           tf.constant(np.inf, tf.float64))  # [B, R]
            cap = tf.reduce_min(tf.where(owner[None], cap[:, :, None],
                                         tf.constant(np.inf, tf.float64)), axis=1)  # [B, n]
            x = tf.minimum(x, cap)
        return x

    def relation_status_tf(self, gen: Mapping[str, Any]):
        """(broken, equal, present), each bool [B, n_relations]: which rows of model-space
        samples `gen` break which of `relations` (before `decode_tf`'s repair), sit on its
        edge (left == right), and have both of its values."""
        import tensorflow as tf

        if not self._relation_idx:
            empty = tf.zeros([tf.shape(gen["num"])[0], 0], tf.bool)
            return empty, empty, empty
        # only the relations' columns: the check runs on every generated block
        cols = sorted({j for pair in self._relation_idx for j in pair})
        x, absent = self._numeric_tf(gen, cols=cols)
        local = {j: k for k, j in enumerate(cols)}
        left, right, present = self._relation_sides(
            x, absent, [(local[i], local[j]) for i, j in self._relation_idx])
        return (tf.logical_and(present, left > right),
                tf.logical_and(present, tf.equal(left, right)), present)

    def relation_gaps_tf(self, gen: Mapping[str, Any]):
        """float64 [B, n_relations]: each relation's (right - left) / max(|left|, |right|)
        in model-space samples `gen` (before `decode_tf`'s repair; negative where it breaks),
        +inf where a value is null."""
        import tensorflow as tf

        if not self._relation_idx:
            return tf.zeros([tf.shape(gen["num"])[0], 0], tf.float64)
        cols = sorted({j for pair in self._relation_idx for j in pair})
        x, absent = self._numeric_tf(gen, cols=cols)
        local = {j: k for k, j in enumerate(cols)}
        left, right, present = self._relation_sides(
            x, absent, [(local[i], local[j]) for i, j in self._relation_idx])
        scale = tf.maximum(tf.maximum(tf.abs(left), tf.abs(right)), 1e-12)
        return tf.where(present, (right - left) / scale, tf.constant(np.inf, tf.float64))

    def violations_tf(self, gen: Mapping[str, Any]):
        """[B] bool: which rows of model-space samples `gen` break one of `relations`
        (before `decode_tf`'s repair)."""
        import tensorflow as tf

        return tf.reduce_any(self.relation_status_tf(gen)[0], axis=1)

    # ------------------------------------------------------------------ to Arrow
    def to_arrow(
        self, decoded: Mapping[str, tuple[np.ndarray, np.ndarray | None]], class_idx: int | np.ndarray
    ) -> pa.RecordBatch:
        """Decoded NumPy columns -> a record batch in the output schema (`is_synthetic` true).

        `class_idx` is one class index for the whole batch, or one per row.
        """
        n = len(next(iter(decoded.values()))[0]) if decoded else int(np.size(class_idx))
        arrays = []
        by_name = {s.name: s for s in self.specs}
        for field in self.schema:
            if field.name == self.label:
                arrays.append(self._label_array(field.type, class_idx, n))
                continue
            s = by_name[field.name]
            if s.kind in ("null", "excluded"):
                arrays.append(_null_values(field.type, n))
                continue
            values, mask = decoded[s.name]
            values = np.asarray(values)
            mask = None if mask is None else np.asarray(mask, bool)
            if mask is not None and not mask.any():
                mask = None
            if s.kind == "numeric":
                if not s.is_int and s.decimals is not None and values.dtype.kind == "f":
                    # decode_tf rounded already, but a traced graph may divide by 10**d as
                    # a multiplication by its inexact reciprocal (236.20000000000002): NumPy's
                    # division gives the double nearest the decimal, as tf.data's stream has it
                    scale = float(10**s.decimals)
                    values = np.round(values * scale) / scale
                arrays.append(_numeric_array(values, mask, field.type, s.int_low, s.int_high,
                                             s.decimals, s.unit, s.unit_offset))
            elif s.kind == "categorical":
                arrays.append(_categorical_array(s, values, field.type))
            else:
                arrays.append(_tensor_array(values, mask, field.type))
        arrays.append(pa.array(np.ones(n, bool)))
        return pa.RecordBatch.from_arrays(arrays, schema=self.output_schema)

    def _label_array(self, typ: pa.DataType, class_idx, n: int) -> pa.Array:
        idx = np.broadcast_to(np.asarray(class_idx, np.int64), (n,))
        value_type = typ.value_type if pa.types.is_dictionary(typ) else typ
        vocab = pa.array(self.classes, type=value_type)
        if pa.types.is_dictionary(typ):
            if self.label_dictionary:  # the input's dictionary and its order
                at = {v: i for i, v in enumerate(self.label_dictionary)}
                idx = np.array([at[c] for c in self.classes], np.int64)[idx]
                vocab = pa.array(self.label_dictionary, type=value_type)
            return pa.DictionaryArray.from_arrays(pa.array(idx).cast(typ.index_type), vocab)
        return vocab.take(pa.array(idx))

    # ------------------------------------------------------------------ JSON
    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "classes": [_json_value(c) for c in self.classes],
            "class_counts": [self.class_counts[c] for c in self.classes],
            "schema": _schema_to_b64(self.schema),
            "features": [dataclasses.asdict(s) for s in self.specs],
            # (only when there are some: encodings without any read as they always did)
            **({"relations": [[r.left, r.right, list(r.ties)] for r in self.relations]}
               if self.relations else {}),
            **({"constraints": list(self.constraints)} if self.constraints is not None else {}),
            **({"derived": [[d.target, d.source, d.slope, d.intercept] for d in self.derived]}
               if self.derived else {}),
            **({"links": [_link_json(k) for k in self.links]} if self.links else {}),
            **({"dependencies": [_dependency_json(d) for d in self.dependencies]}
               if self.dependencies else {}),
            **({"class_nulls": dict(self.class_nulls)} if self.class_nulls else {}),
            **({"input_lists": _lists_to_b64(self.input_lists)} if self.input_lists else {}),
            **({"label_dictionary": [_json_value(c) for c in self.label_dictionary]}
               if self.label_dictionary else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Encoding:
        classes = list(data["classes"])
        specs = [FeatureSpec(**f) for f in data["features"]]
        return cls(
            specs,
            data["label"],
            classes,
            dict(zip(classes, data["class_counts"])),
            _schema_from_b64(data["schema"]),
            [tuple(r) for r in data.get("relations", [])],
            data.get("constraints"),
            [tuple(d) for d in data.get("derived", [])],
            [tuple(k) for k in data.get("links", [])],
            [tuple(d) for d in data.get("dependencies", [])],
            data.get("class_nulls"),
            ({f.name: f.type for f in _schema_from_b64(data["input_lists"])}
             if "input_lists" in data else None),
            data.get("label_dictionary"),
        )


# ---------------------------------------------------------------------- helpers
def _casts(values: Sequence[Any], t: pa.DataType) -> bool:
    """Whether `values` (a vocabulary, the classes) make an array of `t` (a dictionary's
    value type), as `Encoding.encode` compares them."""
    if pa.types.is_dictionary(t):
        t = t.value_type
    if pa.types.is_float16(t):  # `encode` compares half floats as float32 (`_combine`)
        t = pa.float32()
    try:
        pa.array(list(values), type=t)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        return False
    return True


def _dependency_json(dep) -> list[Any]:
    return [dep.column, dep.determinant,
            [[_json_value(a), _json_value(b)] for a, b in dep.mapping]]


def _link_json(link) -> list[Any]:
    return [link.category, _json_value(link.value), link.column, link.spike,
            _json_value(link.other)]


def _combine(col):
    """One array of a column; halffloat as float32 (Arrow's compute kernels have none for it)."""
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return col.cast(pa.float32()) if pa.types.is_float16(col.type) else col


def label_validity(col: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """[n] bool: the rows of a label column with a class. A dictionary's null value counts
    as null, as its null index does (pyarrow's `is_valid` sees only the indices): a label
    of ``["a", "b", None]`` dictionary values gave "classes [None] the model was not
    trained on" where a null label gives a NaN score."""
    if pa.types.is_dictionary(col.type):
        col = col.cast(col.type.value_type)
    return pc.is_valid(col).to_numpy(zero_copy_only=False)


def _null_mask(arr: pa.Array) -> np.ndarray:
    if arr.null_count == 0:
        return np.zeros(len(arr), bool)
    return pc.is_null(arr).to_numpy(zero_copy_only=False)


def _chain_depth(pairs) -> int:
    """The simultaneous sweeps of `Encoding._repair_tf` that (left, right) pairs need: the
    most relations in a chain (a <= b, b <= c: 2), at least 1; a cycle counts each column
    once (a <= b <= a: 1, both become the smaller value in one sweep)."""
    rights = {}
    for i, j in pairs:
        rights.setdefault(i, []).append(j)

    def depth(i, seen):
        return max((1 + depth(j, seen | {j}) for j in rights.get(i, ()) if j not in seen),
                   default=0)

    return max(1, max((depth(i, {i}) for i in rights), default=1))


def _is_list(t: pa.DataType) -> bool:
    """A list type of any of Arrow's three layouts (list, large list, fixed-size list)."""
    return pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)


def _takes_tensor_type(t: pa.DataType, size: int) -> bool:
    """Whether a tensor column of `size` values can be read from a column of (storage)
    type `t`: a fixed-size list of `size` numbers, or a variable-length list (or large list)
    of numbers, whose rows' lengths are checked per row (`_check_tensor_sizes`)."""
    return ((pa.types.is_fixed_size_list(t) or pa.types.is_list(t) or pa.types.is_large_list(t))
            and (pa.types.is_integer(t.value_type) or pa.types.is_floating(t.value_type))
            and (not pa.types.is_fixed_size_list(t) or t.list_size == size))


def _tensor_type_message(name: str, t: pa.DataType, size: int) -> str:
    return (f"column '{name}' has type {t}, expected a list of {size} numbers (a fixed-size "
            f"list, or a list with {size} values in every row)")


def _tensor_shape_problem(spec: FeatureSpec, field: pa.Field, schema: pa.Schema) -> str | None:
    """Why tensor column `field` of `schema` is not the model's (`spec`'s) tensor though it
    holds as many values a row, or None: it declares (an arrow.fixed_shape_tensor's shape,
    or its own `image_shape` metadata) a shape of more than one axis that the model's, of
    more than one axis too, is not (axes of one aside: 28x28 and 28x28x1 are alike). A flat
    shape on either side declares no layout, and is taken."""
    t = field.type
    if isinstance(t, pa.FixedShapeTensorType):
        shape, where = [int(d) for d in t.shape], "its arrow.fixed_shape_tensor type"
    else:
        try:
            own = column_image_shape(field, schema)
            if own is None:
                return None
            shape, where = _parse_image_shape(field.name, own[0]), own[1]
        except SchemaError:  # metadata that names no shape declares none
            return None
    model = [int(d) for d in spec.shape]
    have, want = [d for d in shape if d != 1], [d for d in model if d != 1]
    if len(have) < 2 or len(want) < 2 or have == want:
        return None
    return (f"column '{field.name}' holds tensors of shape {shape} ({where}); the model's are "
            f"{model}: the same values in another layout (reshape them to the model's, or "
            f"fit a model on this layout)")


def _check_tensor_sizes(name: str, col: pa.Array, size: int, *, first_row: int = 0,
                        of: str = "the model's", where: str = "",
                        shown: pa.DataType | None = None) -> None:
    """Raises `SchemaError` naming tensor column `name` unless `col` is a list of numbers with
    `size` values in each (non-null) row: a fixed-size list of another size or a column of
    another type whole, a variable-length list by its rows of another length (counted from
    `first_row`; `of`: whose size it is; `where`: the table, after the column's name;
    `shown`: the type to name, when `col` is an extension column's storage)."""
    if isinstance(col, pa.ExtensionArray):  # an arrow.fixed_shape_tensor: named as itself
        shown, col = shown or col.type, col.storage
    t = col.type
    if not _takes_tensor_type(t, size):
        raise SchemaError(_tensor_type_message(name, shown or t, size))
    if not pa.types.is_fixed_size_list(t):
        wrong = pc.list_value_length(col).fill_null(size).to_numpy(zero_copy_only=False) != size
        if wrong.any():
            raise SchemaError(f"column '{name}'{where} has lists of another length than {of} "
                              f"{size} values ({_rows_note(wrong, first_row)})")


def _rows_note(mask: np.ndarray, first_row: int = 0) -> str:
    """"3 rows; the first is row 17", for an error about the rows `mask` marks (positions
    counted from 0 in the batch being encoded, or from `first_row`)."""
    n = int(mask.sum())
    return f"{n} row{'s' if n != 1 else ''}; the first is row {first_row + int(np.argmax(mask))}"


def _null_values(typ: pa.DataType, n: int) -> pa.Array:
    """`n` values of `typ` with nothing known: nulls, except that a fixed-size list (a
    tensor, or an `arrow.fixed_shape_tensor`) is a list of null elements. Some pyarrow
    versions cannot read back a null fixed-size list from Parquet (apache/arrow#35692), so
    the writer refuses them, and an excluded tensor column could never be written."""
    if isinstance(typ, pa.BaseExtensionType):
        return pa.ExtensionArray.from_storage(typ, _null_values(typ.storage_type, n))
    if pa.types.is_fixed_size_list(typ) and typ.value_field.nullable:
        return pa.FixedSizeListArray.from_arrays(
            _null_values(typ.value_type, n * typ.list_size), type=typ)
    return pa.nulls(n, type=typ)


EXTRAPOLATION_CAP = 1e4  # largest |encoded value| of an extrapolated numeric (`Encoding.encode`)


def _knot_inverse(knots: np.ndarray):
    """Per distinct knot value: its value, first and last grid position."""
    k = len(knots)
    values, first = np.unique(knots, return_index=True)
    last = np.append(first[1:] - 1, k - 1)
    return values, first / (k - 1), last / (k - 1)


def _largest_spike(knots: np.ndarray, share: float) -> float | None:
    """The value filling the longest run of `knots` when the run spans at least `share` of
    the grid (and not all of it), else None."""
    k = len(knots)
    if k < 3:
        return None
    values, first, counts = np.unique(knots, return_index=True, return_counts=True)
    best = int(np.argmax(counts))
    run = counts[best] - 1  # grid intervals the value spans
    if run < share * (k - 1) or run >= k - 1 or run == 0:
        return None
    return float(values[best])


def class_position(value: Any, classes: Sequence[Any],
                   index: Mapping[Any, int] | None = None) -> int:
    """The position of class `value` in `classes` (`index`: ``{class: position}``, if built
    already). Takes the value itself, its string form (``"1"`` for the integer class 1, as
    JSON keys and command lines give classes), a NumPy scalar, UTF-8 bytes (``b"yes"``, as
    a tf.data stream's labels hold them), and ``"true"`` / ``"false"`` for bool classes. A
    bool is not the integer class 1 or 0.

    Raises:
        SchemaError: `value` is none of `classes`.
    """
    index = {c: i for i, c in enumerate(classes)} if index is None else index
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bytes, bytearray)) and bytes(value) not in index:
        value = bytes(value).decode("utf-8", "surrogateescape")
    def bool_classes() -> bool:
        return any(isinstance(c, (bool, np.bool_)) for c in index)

    if isinstance(value, bool) and not bool_classes():
        # True == 1 in Python, but True is not the int class 1
        raise SchemaError(f"class {value!r} is not one of the model's classes {list(classes)}")
    if value in index:
        return index[value]
    for c, i in index.items():
        if str(c) == str(value):
            return i
    if isinstance(value, str) and bool_classes():  # as typed on a command line: true / false
        for c, i in index.items():
            if isinstance(c, (bool, np.bool_)) and value.strip().lower() == str(c).lower():
                return i
    raise SchemaError(f"class {value!r} is not one of the model's classes {list(classes)}")


def _collapse_spike(knots: np.ndarray, spike: float | None) -> np.ndarray:
    """`knots` with the run of knots at `spike` reduced to one knot (unchanged for None)."""
    if spike is None:
        return knots
    at = np.flatnonzero(knots == spike)
    if len(at) < 2:
        return knots
    return np.concatenate([knots[: at[0] + 1], knots[at[-1] + 1:]])


def _knot_forward(table, x: np.ndarray) -> np.ndarray:
    values, p_first, p_last = table
    if len(values) == 1:
        return np.full(len(x), 0.5)
    x = np.clip(x, values[0], values[-1])
    j = np.searchsorted(values, x, side="right") - 1  # values[j] <= x
    j = np.clip(j, 0, len(values) - 1)
    exact = values[j] == x
    jn = np.minimum(j + 1, len(values) - 1)
    span = np.where(jn > j, values[jn] - values[j], 1.0)
    between = p_last[j] + (x - values[j]) / span * (p_first[jn] - p_last[j])
    at = 0.5 * (p_first[j] + p_last[j])
    return np.where(exact, at, between)


def castable_int_bounds(np_dtype) -> tuple[float, float]:
    """The float64 range that casts to integer type `np_dtype` without overflow: 2**63 - 1
    and 2**64 - 1 round up to 2**63 and 2**64 as float64, whose cast wrapped to -2**63 / 0."""
    info = np.iinfo(np_dtype)
    lo, hi = float(info.min), float(info.max)
    if int(hi) > info.max:
        hi = float(np.nextafter(hi, 0.0))
    return lo, hi


def _to_int(values: np.ndarray, np_type) -> np.ndarray:
    lo, hi = castable_int_bounds(np_type)
    with np.errstate(invalid="ignore"):  # NaN where the mask marks a null
        return np.clip(np.rint(values), lo, hi).astype(np_type)


def _clipped_to(col: pa.Array, typ: pa.DataType) -> pa.Array:
    """An integer array's values clipped to the range of the integer type `typ` (an input's
    narrower column: a model's values of a wider one's range are kept in it)."""
    src, dst = np.iinfo(col.type.to_pandas_dtype()), np.iinfo(typ.to_pandas_dtype())
    low, high = max(int(src.min), int(dst.min)), min(int(src.max), int(dst.max))
    if (low, high) == (int(src.min), int(src.max)):
        return col
    col = pc.max_element_wise(col, pa.scalar(low, col.type), skip_nulls=False)  # nulls stay
    return pc.min_element_wise(col, pa.scalar(high, col.type), skip_nulls=False)


def _numeric_array(values: np.ndarray, mask, typ: pa.DataType, low=None, high=None,
                   decimals: int | None = None, unit: int | None = None,
                   offset: int | None = None) -> pa.Array:
    """`low` / `high`: an integer column's exact observed extremes (`FeatureSpec.int_low`),
    `unit` / `offset` a time column's grid (`FeatureSpec.unit`). A time, date or decimal
    `typ` is built as the numbers it is modelled as (`schema.numeric_storage`), then cast."""
    storage = numeric_storage(typ)
    if storage is not None:
        return from_numbers(_numeric_array(values, mask, storage, low, high, unit=unit,
                                           offset=offset), typ, decimals)
    if pa.types.is_integer(typ):
        dtype = np.dtype(typ.to_pandas_dtype())
        # a unit: exactly on its grid (float64 alone misses it beyond 2**53: nanoseconds)
        off = dtype.type(offset or 0)
        ints = (_to_int((values - float(off)) / unit, dtype) * dtype.type(unit) + off if unit
                else _to_int(values, dtype))
        if low is not None:
            ints = np.clip(ints, low, high)  # exact: Python ints take the array's dtype
        return pa.array(ints, type=typ, mask=mask)
    return pa.array(values.astype(typ.to_pandas_dtype()), type=typ, mask=mask)


def _categorical_array(s: FeatureSpec, codes: np.ndarray, typ: pa.DataType) -> pa.Array:
    codes = codes.astype(np.int64)
    null = codes >= len(s.vocab)
    value_type = typ.value_type if pa.types.is_dictionary(typ) else typ
    vocab = pa.array(s.vocab, type=value_type)
    codes = np.where(null, 0, codes)
    if pa.types.is_dictionary(typ) and s.dictionary:  # the input's dictionary and its order
        at = {v: i for i, v in enumerate(s.dictionary)}
        codes = np.array([at[v] for v in s.vocab], np.int64)[codes]
        vocab = pa.array(s.dictionary, type=value_type)
    indices = pa.array(codes, mask=null if null.any() else None)
    if pa.types.is_dictionary(typ):
        return pa.DictionaryArray.from_arrays(indices.cast(typ.index_type), vocab)
    return vocab.take(indices)


def _tensor_array(values: np.ndarray, mask, typ: pa.DataType) -> pa.Array:
    storage_type = typ.storage_type if isinstance(typ, pa.BaseExtensionType) else typ
    np_type = storage_type.value_type.to_pandas_dtype()
    flat = values.reshape(-1)
    flat = pa.array(_to_int(flat, np_type) if np.dtype(np_type).kind in "iu"
                    else flat.astype(np_type))
    storage = pa.FixedSizeListArray.from_arrays(
        flat, type=storage_type, mask=None if mask is None else pa.array(mask)
    )
    if isinstance(typ, pa.BaseExtensionType):
        return pa.ExtensionArray.from_storage(typ, storage)
    return storage

