"""Churn's four minutes / charge pairs in the real rows and in a balanced output: the share
of rows whose charge is ``round(rate * minutes, 2)`` (half up) for the real rows' rate, and
the number of distinct tenths of minutes.

Session 50: the international pair was derived minutes-from-charge (0.27 a minute, so a
charge step of a cent is 0.037 of a minute): 11 % of synthetic rows held a charge that no
minutes give. `RelationStats.derived` now reads the direction from the pair's residual.

    .venv/bin/vae-augment balance examples/data/churn.parquet /tmp/churn_out.parquet \\
        --label churn --model-dir /tmp/churn_model --seed 0 --overwrite
    .venv/bin/python benchmarks/explore/derived_pairs.py examples/data/churn.parquet \\
        /tmp/churn_out.parquet
"""

import sys

import numpy as np
import pyarrow.parquet as pq


def main(real_path: str, balanced_path: str) -> None:
    real = pq.read_table(real_path).to_pandas()
    out = pq.read_table(balanced_path).to_pandas()
    syn = out[out["is_synthetic"]]
    for p in ["day", "eve", "night", "intl"]:
        m, c = f"total_{p}_minutes", f"total_{p}_charge"
        busy = real[m] > (5 if p == "intl" else 50)
        rate = round(float(np.median(real[c][busy] / real[m][busy])), 4)

        def consistent(df, rate=rate, m=m, c=c):
            return float(np.mean(np.isclose(np.round(rate * df[m] + 1e-9, 2), df[c], atol=1e-6)))

        def tenths(df, m=m):
            return len(np.unique(np.round(df[m] * 10).astype(int)))

        print(f"{p:6s} rate {rate}: consistent real {consistent(real):.3f} synthetic "
              f"{consistent(syn):.3f}; distinct tenths of minutes real {tenths(real)} "
              f"synthetic {tenths(syn)} (of {len(syn)} synthetic rows)")


if __name__ == "__main__":
    main(*sys.argv[1:3])
