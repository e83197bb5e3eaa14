"""How many latent dimensions a defaults model uses: fit on a whole ../shared dataset (seed 0,
library defaults), then the report's model diagnostics on its first 2,000 rows (active units
by within-class variance and by KL > 0.1 nats, KL per dimension).

    cd benchmarks/explore && ../../.venv/bin/python latent_use.py hpc class

One-off exploration behind benchmarks/results/quality.md, session 22.
"""
import sys

import _common  # noqa: F401  (import paths)
import numpy as np
import pyarrow.parquet as pq

from vae_augment.api import fit
from vae_augment.diagnostics import _diagnostics

name, label = sys.argv[1], sys.argv[2]
table = pq.read_table(f"{_common.HERE}/../../../shared/data/{name}.parquet")
art = fit(table, label=label, seed=0, verbose=0)
d = _diagnostics(art, table.slice(0, 2000), 0, 8)
print(name, "active (variance)", d["active_units"], "active (KL)", d["active_units_kl"], "of",
      d["latent_dim"], "KL per dim", np.round(d["kl_per_dim"], 2).tolist(),
      "epochs", art.config["metrics"]["epochs_run"])
