"""`CountClasses`: rows per class with a Combine (works on every runner)."""

from __future__ import annotations

from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc

from vae_augment.beam.rows import as_table
from vae_augment.errors import SchemaError, arg, columns_note, label_column
from vae_augment.schema import canonical_zeros

__all__ = ["CountClasses", "SumCountsFn", "table_counts"]


def table_counts(element: pa.Table | pa.RecordBatch, label: str) -> dict[Any, int]:
    """{class: rows} of one table; null labels are not counted (as `api.class_counts`)."""
    table = as_table(element)
    if label not in table.column_names:
        raise SchemaError(f"{label_column(label)} not found. Columns: {columns_note(table.column_names)}")
    col = table.column(label)
    if pa.types.is_dictionary(col.type):
        col = col.combine_chunks().dictionary_decode()
    vc = pc.value_counts(canonical_zeros(col.drop_null()))
    return dict(zip(vc.field("values").to_pylist(), vc.field("counts").to_pylist()))


class SumCountsFn(beam.CombineFn):
    """Adds {class: count} dicts."""

    def create_accumulator(self) -> dict[Any, int]:
        return {}

    def add_input(self, acc: dict[Any, int], counts: dict[Any, int]) -> dict[Any, int]:
        for c, n in counts.items():
            acc[c] = acc.get(c, 0) + int(n)
        return acc

    def merge_accumulators(self, accs) -> dict[Any, int]:
        out: dict[Any, int] = {}
        for acc in accs:
            self.add_input(out, acc)
        return out

    def extract_output(self, acc: dict[Any, int]) -> dict[Any, int]:
        return dict(acc)


def require_global_window(pcoll, name: str, works_on: str = "totals over the whole input"
                          ) -> None:
    """A one-line error for windowed input: class counts (and the balancing built on them)
    are totals over the whole input."""
    from apache_beam.transforms.window import GlobalWindows

    if not isinstance(pcoll.windowing.windowfn, GlobalWindows):
        raise SchemaError(
            f"{name} works on {works_on}, which must be in the global "
            f"window (it is windowed by {type(pcoll.windowing.windowfn).__name__}); re-window "
            f"it first: beam.WindowInto(beam.window.GlobalWindows())")


class CountClasses(beam.PTransform):
    """Counts rows per class of a PCollection of Arrow tables.

    Returns a PCollection holding one ``{class: count}`` dict (``{}`` for empty input), ready
    to use as `beam.pvalue.AsSingleton` side input. Rows with a null label are not counted.

    Example:
        >>> counts = tables | CountClasses("churn")  # doctest: +SKIP
    """

    def __init__(self, label: str):
        super().__init__()
        if not isinstance(label, str) or not label:
            raise SchemaError(f"{arg('label')} must be a column name, got {label!r}")
        self._label = label

    def display_data(self):
        return {"label": self._label}

    def expand(self, tables):
        require_global_window(tables, "CountClasses")
        return (
            tables
            | "CountPerTable" >> beam.Map(table_counts, self._label)
            | "Sum" >> beam.CombineGlobally(SumCountsFn())
        )
