"""SDV TVAE worker for benchmarks/utility.py, run under an interpreter that has `sdv` installed.

Fits one `TVAESynthesizer` (SDV defaults, 300 epochs) per requested class on that class's
rows and writes the generated rows to Parquet. Column types are SDV's
detection except that no column is PII or an ID: those become `numerical` (numbers) or
`categorical` (SDV would take churn's `state` and `voice_mail_plan` for PII and write Faker
values there, and a digits pixel column for a primary key). Called in a subprocess so that SDV (and its
PyTorch) never share a process with TensorFlow.

    /work/sdv-venv/bin/python benchmarks/_tvae_worker.py IN.parquet OUT.parquet \
        --label churn --counts '{"yes": 2500}' --seed 0
"""

from __future__ import annotations

import argparse
import json
import time

MODELLED = ("numerical", "categorical", "boolean", "datetime", "ordinal")  # SDV sdtypes kept


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--label", required=True)
    p.add_argument("--counts", required=True, help="JSON {class (as string): rows}")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    import numpy as np
    import pandas as pd
    import torch
    from sdv.metadata import Metadata
    from sdv.single_table import TVAESynthesizer

    df = pd.read_parquet(args.input)
    counts = json.loads(args.counts)
    parts, seconds = [], {}
    for cls, n in counts.items():
        rows = df[df[args.label].astype(str) == cls].drop(columns=[args.label])
        start = time.perf_counter()
        np.random.seed(args.seed)
        torch.manual_seed(args.seed)
        metadata = Metadata.detect_from_dataframes({"t": rows})
        if metadata.to_dict()["tables"]["t"].get("primary_key"):
            metadata.remove_primary_key("t")  # detection can take a pixel column for a key
        columns = metadata.to_dict()["tables"]["t"]["columns"]
        for col in rows.columns:  # SDV's detection, except PII and IDs: SDV would write Faker
            # values for churn's `state` and `voice_mail_plan`; every column is data to model
            if columns[col]["sdtype"] not in MODELLED:
                numeric = (pd.api.types.is_numeric_dtype(rows[col])
                           and not pd.api.types.is_bool_dtype(rows[col]))
                metadata.update_column(col, table_name="t",
                                       sdtype="numerical" if numeric else "categorical")
        synth = TVAESynthesizer(metadata, enable_gpu=False)
        synth.fit({"t": rows})  # SDV 2.0: a dict of one table
        out = synth.sample(num_rows=int(n))
        if isinstance(out, dict):  # SDV 2.0 returns {table name: DataFrame}
            out = out["t"]
        seconds[cls] = time.perf_counter() - start
        out[args.label] = df[args.label][df[args.label].astype(str) == cls].iloc[0]
        parts.append(out[df.columns])
    pd.concat(parts, ignore_index=True).to_parquet(args.output)
    print(json.dumps({"seconds": seconds}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
