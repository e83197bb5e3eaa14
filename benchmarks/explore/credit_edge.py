"""Credit's `Amount <= Price` edge: the share of each class's rows with Amount == Price, real
and synthetic (4,000 rows a class, seed 0), for the library defaults and `UNGUIDED`, plain and
guided draws (session 39; results/constraint_edge_s39.md).

    .venv/bin/python benchmarks/explore/credit_edge.py
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "shared", "data", "credit.parquet")


def edge(table) -> float:
    a = np.array(table["Amount"].to_pylist(), float)
    p = np.array(table["Price"].to_pylist(), float)
    ok = ~np.isnan(a) & ~np.isnan(p)
    return float(np.mean(a[ok] == p[ok]))


def main() -> None:
    import vae_augment as va

    table = pq.read_table(DATA)
    label = "Status"
    for c in sorted(set(table.column(label).to_pylist())):
        print("real", c, "edge", round(edge(table.filter(pc.equal(table.column(label), c))), 4))
    for name, kw in (("defaults", {}), ("unguided", va.UNGUIDED)):
        art = va.fit(table, label=label, seed=0, verbose=0, **kw)
        print(name, [str(r) for r in art.encoding.relations])
        for guided in (False, True):
            for c in art.classes:
                rows = va.sample(art, {c: 4000}, seed=0, guided=guided)
                print(name, "guided" if guided else "plain", c, "edge", round(edge(rows), 4))


if __name__ == "__main__":
    main()
