"""The constraint discovery pass (`RelationStats.update`) per row, against an older copy of
`vae_augment/constraints.py` given as the first argument, alternated (session 27: the
derived columns' pair moments added to the pass):

    git show a197bf2:vae_augment/constraints.py > /tmp/old.py
    .venv/bin/python benchmarks/explore/discovery_cost.py /tmp/old.py
"""
import importlib.util
import os
import sys
import time

import numpy as np
import pyarrow as pa

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


def load_old(path: str):
    spec = importlib.util.spec_from_file_location("constraints_old", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["constraints_old"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> int:
    from vae_augment import constraints as new

    old = load_old(sys.argv[1])
    rng = np.random.default_rng(0)
    for n_cols in (14, 64):
        t = pa.table({f"c{i}": rng.normal(size=65536).round(2) for i in range(n_cols)})
        cls = rng.integers(0, 2, t.num_rows)
        res: dict[str, list[float]] = {}
        for name, mod in (("old", old), ("new", new), ("old", old), ("new", new)):
            stats = mod.RelationStats(t.column_names, 2)
            start = time.perf_counter()
            for _ in range(3):
                stats.update(t, cls)
            res.setdefault(name, []).append(
                (time.perf_counter() - start) / (3 * t.num_rows) * 1e6)
        print(n_cols, "columns, us per row:",
              {k: [round(v, 2) for v in vs] for k, vs in res.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
