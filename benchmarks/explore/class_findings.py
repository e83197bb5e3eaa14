"""Per-class F1 and the utility findings of `evaluate` (1 split, then 5 splits) for a model
fitted on a whole public table with the defaults, or with `--guided` (any second argument):

    .venv/bin/python benchmarks/explore/class_findings.py hpc [guided]

Session 29: results/class_findings_s29.txt (hpc and digits_longtail, the 5-split lines).
"""

from __future__ import annotations

import os
import sys

import _common  # noqa: F401  (import paths)
import utility as U

# session 29 measured in the model's encoding, the report's only feature space then; the
# report's default since session 30 is "standard" (VAE_AUGMENT_FEATURES=standard)
FEATURES = os.environ.get("VAE_AUGMENT_FEATURES", "encoding")


def main(name: str, guided: bool) -> None:
    import vae_augment as va
    from vae_augment.balancing import samples_to_generate

    label = U.DATASETS[name]
    table = U.load(name)
    art = va.fit(table, label=label, seed=0, **(va.GUIDED if guided else {}))
    counts = {c: k for c, k in samples_to_generate(dict(art.encoding.class_counts),
                                                   "auto").items() if k > 0}
    synth = va.sample(art, counts, seed=0)
    for n in (1, 5):
        rep = va.evaluate(table, synth, label=label, sections=["utility"], utility_splits=n,
                          utility_features=FEATURES,
                          seed=0, progress=False)
        u = rep["utility"]
        for clf, res in u["results"].items():
            print(n, clf, u["classes"],
                  "ours", [round(v, 3) for v in res["vae_augment"]["f1_per_class"]],
                  "none", [round(v, 3) for v in res["none"]["f1_per_class"]])
        for f in rep["findings"]:
            print(n, f["level"], f["message"], "| advice:", f["advice"][:160])


if __name__ == "__main__":
    main(sys.argv[1], len(sys.argv) > 2)
