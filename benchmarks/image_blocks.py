"""Peak memory and time of `vae-augment sample --n N` for models of large images, with the
sampler's per-model block size (session 22) and, with `--old`, with every model on 8,192-row
blocks as before (`sampler._BLOCK_TENSOR_ELEMENTS` raised so that no model shrinks).

Each measurement runs in its own process under `/usr/bin/time -f %M` (peak RSS). The models
are fitted for one epoch on random uint8 images (`fixed_shape_tensor`, two classes): the
decoder's size, not its quality, sets the cost.

    .venv/bin/python benchmarks/image_blocks.py --sides 64,128 --n 5 [--old]

Results: benchmarks/results/image_blocks.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
RUN = """
import sys
import vae_augment.sampler as s
if sys.argv[1] == "old":
    s._BLOCK_TENSOR_ELEMENTS = 1 << 62
from vae_augment.cli import main
sys.exit(main(sys.argv[2:]))
"""


def build(side: int, rows: int, path: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(side)
    size = side * side * 3
    storage = pa.FixedSizeListArray.from_arrays(
        pa.array(rng.integers(0, 256, rows * size).astype(np.uint8)), size)
    img = pa.ExtensionArray.from_storage(pa.fixed_shape_tensor(pa.uint8(), [side, side, 3]), storage)
    y = np.r_[np.zeros(rows * 2 // 3, int), np.ones(rows - rows * 2 // 3, int)]
    pq.write_table(pa.table({"img": img, "label": y}), path)


def measure(mode: str, argv: list[str]) -> tuple[str, float | None, float | None]:
    proc = subprocess.run(["/usr/bin/time", "-f", "TIME %e %M", PY, "-c", RUN, mode, *argv],
                          cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    line = [x for x in proc.stderr.splitlines() if x.startswith("TIME ")]
    seconds, kb = (float(line[-1].split()[1]), float(line[-1].split()[2])) if line else (None, None)
    status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
    if proc.returncode < 0 or "signal" in proc.stderr:
        status = "crashed (" + (proc.stderr.strip().splitlines() or ["?"])[-1][:60] + ")"
    return status, seconds, None if kb is None else kb / 1024 / 1024


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sides", default="64,128")
    p.add_argument("--n", type=int, default=5)
    p.add_argument("--old", action="store_true", help="also measure 8,192-row blocks")
    args = p.parse_args()
    from vae_augment.artifact import read_artifact_meta
    from vae_augment.sampler import block_rows

    print("| image | block rows (now) | mode | status | seconds | peak RSS GB |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for side in [int(s) for s in args.sides.split(",")]:
            data, model = os.path.join(tmp, f"rgb{side}.parquet"), os.path.join(tmp, f"m{side}")
            build(side, 100 if side <= 64 else 60, data)
            fit = measure("new", ["fit", data, "--label", "label", "--model-dir", model,
                                  "--epochs", "1", "--quiet"])
            if fit[0] != "ok":
                print(f"| {side}x{side}x3 | - | fit | {fit[0]} | | |")
                continue
            rows = block_rows(read_artifact_meta(model)[0])
            for mode in (["old"] if args.old else []) + ["new"]:
                out = os.path.join(tmp, f"s{side}{mode}.parquet")
                status, sec, gb = measure(mode, ["sample", out, "--model-dir", model, "--class",
                                                 "1", "--n", str(args.n), "--quiet"])
                label = "8192-row blocks (before)" if mode == "old" else "per-model blocks"
                print(f"| {side}x{side}x3 | {rows} | {label} | {status} | {sec} | "
                      f"{'' if gb is None else f'{gb:.2f}'} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
