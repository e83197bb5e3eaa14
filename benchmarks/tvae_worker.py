"""Runs SDV's TVAESynthesizer once per minority class (executed by a separate interpreter that
has `sdv` installed; prints one JSON line with the wall time).

    /path/to/sdv-python benchmarks/tvae_worker.py DATA.parquet LABEL [--epochs 300]
"""

import argparse
import json
import time

import pandas as pd


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("label")
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--out", default=None, help="write the synthetic rows here (Parquet)")
    args = p.parse_args()
    from sdv.metadata import Metadata
    from sdv.single_table import TVAESynthesizer

    df = pd.read_parquet(args.data)
    counts = df[args.label].value_counts()
    majority = int(counts.max())
    start = time.perf_counter()
    parts, per_class = [], {}
    for cls, n in counts.items():
        if n == majority:
            continue
        t = time.perf_counter()
        rows = df[df[args.label] == cls].drop(columns=[args.label])
        meta = Metadata.detect_from_dataframes({"table": rows})
        synth = TVAESynthesizer(meta, epochs=args.epochs)
        synth.fit({"table": rows})
        out = synth.sample(majority - int(n))
        out[args.label] = cls
        parts.append(out)
        per_class[str(cls)] = round(time.perf_counter() - t, 3)
    total = time.perf_counter() - start
    if args.out and parts:
        pd.concat(parts).to_parquet(args.out)
    print(json.dumps({"seconds": round(total, 3), "per_class_seconds": per_class}))


if __name__ == "__main__":
    main()
