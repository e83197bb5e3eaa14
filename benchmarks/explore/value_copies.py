"""How often synthetic numbers copy a real value, on a small subsample of a public table.

Session 43: the quantile knots were the sorted values themselves (`inverted_cdf`), so on a
table of fewer rows than the 1,025 knots every value filled a run of knots, a tie that
decoding maps back to the value. This script subsamples ROWS rows of a table (split seed
SEED), runs `vae-augment balance` with the defaults from the library at REPO (e.g. a
worktree of an older commit), and prints, over the numeric columns with at least 50
distinct values in the sample, the share of the synthetic rows' cells that hold a value of
the sample, beside the same share for ROWS held-out real rows (what unseen real rows
give).

    python benchmarks/explore/value_copies.py REPO DATASET ROWS SEED
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

LABELS = {"credit": "Status", "churn": "churn", "hpc": "class"}
SHARED = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data")


def shares(sample: pa.Table, other: pa.Table, label: str) -> tuple[float, dict]:
    cells = hits = 0
    per = {}
    for f in sample.schema:
        if f.name == label or not (pa.types.is_floating(f.type) or pa.types.is_integer(f.type)):
            continue
        real = {v for v in sample[f.name].to_pylist() if v is not None}
        if len(real) < 50:  # a discrete column repeats its values by nature
            continue
        vals = [v for v in other[f.name].to_pylist() if v is not None]
        k = sum(v in real for v in vals)
        cells, hits = cells + len(vals), hits + k
        per[f.name] = round(k / max(len(vals), 1), 2)
    return round(hits / max(cells, 1), 4), per


def main() -> None:
    repo, name, rows, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    label = LABELS[name]
    table = pq.read_table(os.path.join(SHARED, f"{name}.parquet"))
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(table.num_rows, rows, replace=False))
    sample = table.take(idx)
    rest = np.setdiff1d(np.arange(table.num_rows), idx)
    held = table.take(rng.choice(rest, rows, replace=False))
    with tempfile.TemporaryDirectory() as d:
        pq.write_table(sample, f"{d}/in.parquet")
        env = {**os.environ, "PYTHONPATH": os.path.abspath(repo)}
        run = subprocess.run([sys.executable, "-m", "vae_augment", "balance", f"{d}/in.parquet",
                              f"{d}/out.parquet", "--label", label, "--seed", str(seed), "--quiet"],
                             env=env, capture_output=True, text=True, cwd=os.path.abspath(repo))
        if run.returncode:
            sys.exit(run.stderr)
        out = pq.read_table(f"{d}/out.parquet")
    synthetic = out.filter(out["is_synthetic"])
    syn, syn_per = shares(sample, synthetic, label)
    real, real_per = shares(sample, held, label)
    print(json.dumps({"repo": repo, "data": name, "rows": rows, "seed": seed,
                      "synthetic_rows": synthetic.num_rows, "synthetic_copied": syn,
                      "held_out_real_copied": real, "synthetic_by_column": syn_per,
                      "held_out_by_column": real_per}))


if __name__ == "__main__":
    main()
