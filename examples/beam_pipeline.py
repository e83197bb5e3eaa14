"""Balance and score churn data inside your own Apache Beam pipeline (bundled data).

The packaged job `pipelines/balance.py` runs `BalanceClasses` on its own. This example is
what a Beam/TFX user writes in their own pipeline: the library's PTransforms composed with
their own steps, in one pipeline:

1. train a conditional VAE once with `vae_augment.fit` on `examples/data/churn.parquet`
   (label ``churn``: 707 "yes" among 5,000 rows); skipped when `--model-dir` already holds
   an artifact;
2. ``ReadParquetTables`` -> ``BalanceClasses(..., flatten=False)`` -> a user step on the
   Arrow tables (``AddTotalCharge``: a ``total_charge`` feature column computed per table,
   and per-class row counters) -> ``WriteToParquetBatched``, one sink per part:
   ``OUT/real-*.parquet`` (every input row once, ``is_synthetic=False``) and
   ``OUT/synthetic-*.parquet`` (``is_synthetic=True``, bringing "yes" up to the 4,293 "no"
   rows). Both: the input schema, then ``is_synthetic``, then ``total_charge`` (float64);
3. a second branch on the same real tables: ``ScoreAnomalies`` -> the 99th percentile of the
   scores (``ApproximateQuantiles``, fed whole score arrays) as a side input -> the rows
   above it -> ``OUT/anomalies-*.parquet`` (input schema plus ``anomaly_score``, float32);
4. at the end, Beam metrics: per-class counts of real and synthetic rows, as the user step
   counted them, and the anomaly count.

The bundled file is a single 5,000-row row group; the example first copies it to a
temporary file with 1,000-row row groups, so the pipeline sees 5 tables as a larger input
would. A re-run replaces the ``real-``, ``synthetic-`` and ``anomalies-`` files in `--out`.

Run from the repository root (about 30 s here: early stopping ends the default training
after about 90 epochs)::

    .venv/bin/python examples/beam_pipeline.py            # trains with the library's defaults
    .venv/bin/python examples/beam_pipeline.py --epochs 20 --model-dir runs/b20 --out out/b20
    .venv/bin/python examples/beam_pipeline.py --direct_running_mode=multi_processing \\
        --direct_num_workers=2                  # reuses runs/churn_beam; Beam options follow

Without ``--runner`` it runs on Beam's in-process FnApiRunner, which works offline (Beam's
default DirectRunner first tries to download the Prism runner). The synthetic rows are the
ones ``vae-augment balance examples/data/churn.parquet x.parquet --label churn --model-dir
MODEL_DIR --seed SEED`` generates (as a multiset; file order depends on the runner).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import apache_beam as beam  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from apache_beam.io.filesystems import FileSystems  # noqa: E402
from apache_beam.metrics.metric import MetricsFilter  # noqa: E402
from apache_beam.options.pipeline_options import PipelineOptions, StandardOptions  # noqa: E402

HERE = pathlib.Path(__file__).resolve().parent
DATA = HERE / "data" / "churn.parquet"
LABEL = "churn"
ROW_GROUP_ROWS = 1000  # rows per row group of the staged input = rows per Beam element
CHARGES = ["total_day_charge", "total_eve_charge", "total_night_charge", "total_intl_charge"]
FEATURE = pa.field("total_charge", pa.float64())  # the user step's column
SCORE = "anomaly_score"  # ScoreAnomalies' column (its default name)
ANOMALY_QUANTILE = 99  # rows scoring above this percentile go to OUT/anomalies-*.parquet
METRICS = "beam_pipeline_example"  # our counters' namespace (the library uses "vae_augment")
OUTPUTS = ("real", "synthetic", "anomalies")


class AddTotalCharge(beam.DoFn):
    """The user's own step: works on whole Arrow tables, like the library's transforms.

    Appends ``total_charge`` (the four charge columns summed, rounded to cents) with
    vectorised pyarrow compute, and counts rows per class in Beam counters named
    ``"<kind>:<class>"`` (kind: real or synthetic).
    """

    def __init__(self, kind: str):
        super().__init__()
        self._kind = kind
        self._tables = beam.metrics.Metrics.counter(METRICS, f"{kind}_tables")

    def process(self, table: pa.Table):
        # One element = one pyarrow.Table: a Parquet row group for real rows, whole sampler
        # blocks (up to 65,536 rows) for synthetic rows. Never one row dict per row.
        self._tables.inc()
        total = table.column(CHARGES[0])
        for name in CHARGES[1:]:
            total = pc.add(total, table.column(name))
        labels = table.column(LABEL)
        for value, n in zip(*_value_counts(labels)):
            beam.metrics.Metrics.counter(METRICS, f"{self._kind}:{value}").inc(n)
        yield table.append_column(FEATURE, pc.round(total, 2))


def _value_counts(column) -> tuple[list, list]:
    vc = pc.value_counts(column.drop_null())
    return vc.field("values").to_pylist(), vc.field("counts").to_pylist()


def above_threshold(table: pa.Table, quantiles: list) -> pa.Table:
    """The rows of a scored table whose score is above the ANOMALY_QUANTILE-th percentile."""
    return table.filter(pc.greater(table.column(SCORE), quantiles[ANOMALY_QUANTILE]))


def train_once(model_dir: str, epochs: int | None, seed: int) -> None:
    """Fits the model unless `model_dir` already holds an artifact (its manifest.json)."""
    if os.path.exists(os.path.join(model_dir, "manifest.json")):
        print(f"using the model in {model_dir}", flush=True)
        return
    import vae_augment

    kwargs = {} if epochs is None else {"epochs": epochs}  # None: the library's defaults
    print(f"training on {DATA.name} into {model_dir} "
          f"({epochs or 'default'} epochs) ...", flush=True)
    vae_augment.fit(str(DATA), label=LABEL, model_dir=model_dir, seed=seed, **kwargs)


def stage_input(directory: str) -> str:
    """A copy of the bundled data with ROW_GROUP_ROWS-row row groups (5 Beam elements)."""
    path = os.path.join(directory, "churn.parquet")
    pq.write_table(pq.read_table(DATA), path, row_group_size=ROW_GROUP_ROWS)
    return path


def clear_outputs(out: str) -> None:
    """Deletes this example's previous output files (any Beam filesystem)."""
    if "://" not in out:
        os.makedirs(out, exist_ok=True)
    patterns = [f"{out}/{name}-*.parquet" for name in OUTPUTS]
    old = [m.path for r in FileSystems.match(patterns) for m in r.metadata_list]
    if old:
        FileSystems.delete(old)


def build(p: beam.Pipeline, input_path: str, model_dir: str, out: str, seed: int) -> None:
    from vae_augment.beam import BalanceClasses, ReadParquetTables, ScoreAnomalies

    # Both transforms name the same model directory, so they share one `Shared` handle: each
    # worker process loads the model once (in DoFn.setup), however many transforms use it.
    balance = BalanceClasses(model_dir, LABEL, "auto", seed=seed, flatten=False)
    score = ScoreAnomalies(model_dir, column=SCORE)

    tables = p | "Read" >> ReadParquetTables(input_path)  # one pyarrow.Table per row group

    # Branch 1: balance. The synthetic rows equal `vae-augment balance`'s for the same model,
    # data and seed: block b of class c is always drawn with the seed of (seed, c, b),
    # whatever the runner, the sharding or the retries. `flatten=False` keeps real and
    # synthetic rows apart, so each gets its own sink (the FnApiRunner would buffer a
    # Flatten of the two in memory).
    parts = tables | "Balance" >> balance
    schema = balance.output_schema.append(FEATURE)  # input + is_synthetic + total_charge
    for kind, part in (("real", parts.real), ("synthetic", parts.synthetic)):
        _ = (
            part
            | f"Feature{kind.title()}" >> beam.ParDo(AddTotalCharge(kind))
            | f"Write{kind.title()}" >> beam.io.WriteToParquetBatched(
                f"{out}/{kind}", schema, file_name_suffix=".parquet",
                use_compliant_nested_type=True)  # lists as "element", as the CLI writes
        )

    # Branch 2: anomaly scores of the real rows (negative ELBO; higher = less typical of
    # the row's class). The percentile is computed in the pipeline and used as a side input.
    scored = tables | "Score" >> score
    quantiles = (
        scored
        | "Scores" >> beam.Map(lambda t: t.column(SCORE).to_numpy())
        | "Quantiles" >> beam.ApproximateQuantiles.Globally(101, input_batched=True)
    )
    anomalies = scored | "AboveThreshold" >> beam.Map(
        above_threshold, beam.pvalue.AsSingleton(quantiles))
    _ = anomalies | "CountAnomalies" >> beam.Map(
        lambda t: beam.metrics.Metrics.counter(METRICS, "anomalies").inc(t.num_rows))
    _ = quantiles | "Threshold" >> beam.Map(  # metrics hold integers: the threshold x 1000
        lambda q: beam.metrics.Metrics.gauge(METRICS, "threshold_milli").set(
            round(1000 * float(q[ANOMALY_QUANTILE]))))
    _ = anomalies | "WriteAnomalies" >> beam.io.WriteToParquetBatched(
        f"{out}/anomalies", score.output_schema(balance.input_schema),  # input + anomaly_score
        file_name_suffix=".parquet", use_compliant_nested_type=True)


def report(result) -> None:
    """Prints per-class real/synthetic counts and the anomaly count from Beam's metrics."""
    try:
        found = result.metrics().query(MetricsFilter().with_namespace(METRICS))
    except (NotImplementedError, AttributeError):
        print("this runner reports no metrics; see the output files")
        return
    counts = {c.key.metric.name: int(c.committed or 0) for c in found["counters"]}
    gauges = {g.key.metric.name: g.committed.value for g in found["gauges"] if g.committed}
    per_class: dict[str, dict[str, int]] = {}
    for name, n in counts.items():
        kind, sep, value = name.partition(":")
        if sep:
            per_class.setdefault(value, {}).setdefault(kind, 0)
            per_class[value][kind] += n
    print(f"\n{'class':<8}{'real':>8}{'synthetic':>11}{'total':>8}")
    for value in sorted(per_class):
        real, synth = per_class[value].get("real", 0), per_class[value].get("synthetic", 0)
        print(f"{value:<8}{real:>8}{synth:>11}{real + synth:>8}")
    print(f"tables: {counts.get('real_tables', 0)} real (one per row group), "
          f"{counts.get('synthetic_tables', 0)} synthetic")
    threshold = gauges.get("threshold_milli")
    threshold = "?" if threshold is None else f"{threshold / 1000:.3f}"
    print(f"anomalies: {counts.get('anomalies', 0)} real rows with anomaly_score > "
          f"{threshold} (the {ANOMALY_QUANTILE}th percentile)")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model-dir", default="runs/churn_beam",
                   help="artifact directory; trained first unless it holds one")
    p.add_argument("--out", default="out/beam_pipeline", help="output directory")
    p.add_argument("--epochs", type=int, default=None,
                   help="training epochs (default: the library's)")
    p.add_argument("--seed", type=int, default=0)
    args, beam_args = p.parse_known_args(argv)
    options = PipelineOptions(beam_args)  # any other flag is a Beam option
    if options.view_as(StandardOptions).runner is None:
        options.view_as(StandardOptions).runner = "FnApiRunner"  # offline, in-process

    train_once(args.model_dir, args.epochs, args.seed)
    clear_outputs(args.out)
    with tempfile.TemporaryDirectory(prefix="beam_example_") as tmp:
        pipeline = beam.Pipeline(options=options)
        build(pipeline, stage_input(tmp), args.model_dir, args.out, args.seed)
        result = pipeline.run()
        result.wait_until_finish()
    report(result)
    print(f"wrote {args.out}/real-*.parquet, synthetic-*.parquet, anomalies-*.parquet")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
