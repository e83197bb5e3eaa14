"""Churn's voice-mail pair in synthetic churners: do messages and the plan agree?

    python benchmarks/explore/voicemail_pair.py '{"spike_share": 0.25}'

Fits one model on all of ../shared/data/churn.parquet (seed 0; the JSON argument holds extra
`vae_augment.api.fit` kwargs), samples 3,000 churners (seed 1) and prints, for the real and the
synthetic churners: the share with no voice-mail messages, with no plan, the two kinds of
disagreement, the mean messages of those with some, and the day minutes' mean and sd.
"""
import json
import pathlib
import sys
import tempfile

import pyarrow.parquet as pq

from vae_augment.api import fit, sample

DATA = pathlib.Path(__file__).resolve().parents[3] / "shared" / "data" / "churn.parquet"


def stats(table, name):
    d = table.to_pandas()
    d = d[d.churn == "yes"]
    m, p = d.number_vmail_messages, d.voice_mail_plan
    print(f"{name}: rows {len(d)}, no messages {(m == 0).mean():.3f}, no plan "
          f"{(p == 'no').mean():.3f}, messages 0 but a plan {((m == 0) & (p == 'yes')).mean():.3f}, "
          f"messages but no plan {((m > 0) & (p == 'no')).mean():.3f}, mean messages (> 0) "
          f"{m[m > 0].mean():.1f}, day minutes {d.total_day_minutes.mean():.1f} / "
          f"{d.total_day_minutes.std():.1f}")


def main(kwargs):
    table = pq.read_table(DATA)
    with tempfile.TemporaryDirectory() as tmp:
        art = fit(table, label="churn", model_dir=tmp, seed=0, **kwargs)
        synthetic = sample(art, {"yes": 3000}, seed=1)
    stats(table, "real")
    stats(synthetic, f"synthetic {json.dumps(kwargs)}")


if __name__ == "__main__":
    main(json.loads(sys.argv[1]) if len(sys.argv) > 1 else {})
