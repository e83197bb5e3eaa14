"""A block's rows do not depend on the machine's thread count (Beam workers, CI, laptops)."""

import subprocess
import sys

import pyarrow.parquet as pq

from .conftest import REPO

SCRIPT = """
import sys
import tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(int(sys.argv[1]))
tf.config.threading.set_inter_op_parallelism_threads(int(sys.argv[1]))
from vae_augment.api import sample
sample(sys.argv[2], {"a": 9000, "c": 300}, sys.argv[3], seed=11)
import os
os._exit(0)  # the rows are written: no interpreter teardown (TensorFlow's is 1-2 s)
"""


def test_rows_identical_on_1_and_2_threads(tmp_path, mixed_artifact):
    outs = []
    for threads in (1, 2):
        out = tmp_path / f"t{threads}.parquet"
        proc = subprocess.run([sys.executable, "-c", SCRIPT, str(threads), str(mixed_artifact), str(out)],
                              cwd=REPO, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        outs.append(pq.read_table(out))
    assert outs[0].num_rows == 9300
    assert outs[0].equals(outs[1])
