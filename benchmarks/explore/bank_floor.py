"""A noise floor on the stored posteriors generation draws from (session 41; measured).

At the defaults' KL weight 0.5 the rows `balance` adds on bundled churn sit near their
training rows (privacy_beta.py: 73 % nearer a real-train row than 95 % of real-test rows;
17 % at KL weight 0.75) and a latent temperature of 2 changes nothing: the stored posteriors'
scales are too small for the noise to matter. Here, after fitting, each stored posterior's
scale becomes sqrt(sd**2 + (floor * prior_sd)**2), prior_sd the class prior's scale in that
dimension, so a draw strays from its row by at least `floor` of the class's own spread.

    .venv/bin/python benchmarks/explore/bank_floor.py privacy --floors 0,0.25,0.5,1
    .venv/bin/python benchmarks/explore/bank_floor.py privacy --data ../shared/data/credit.parquet --label Status
    .venv/bin/python benchmarks/explore/bank_floor.py utility --floor 0.5 -- --methods vae --seeds 0,1,2 --json out.json

privacy prints the latent scales (median stored-posterior sd against the class prior's, per
dimension), then per floor: guided / plain (share, synthetic median distance, real-test median
distance), as privacy_beta.py. utility runs benchmarks/utility.py with every fit floored.
"""
import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLED = os.path.join(HERE, "..", "..", "examples", "data", "churn.parquet")


def scales(model):
    """(stored posterior sds [classes, slots, d], their filled counts, prior sds [classes, d])."""
    import tensorflow as tf

    from vae_augment import distributions as D

    classes = int(model.bank_filled.shape[0])
    _, p_sd = model.prior_params(tf.range(classes))
    return (D.normal_scale(model.bank_scale).numpy(), model.bank_filled.numpy(),
            D.normal_scale(p_sd).numpy())


def apply_floor(model, floor, original=None):
    """Sets the stored posteriors' scales to sqrt(sd**2 + (floor * prior_sd)**2); `original`:
    the raw scales to start from (default: the model's current ones). Returns the original."""
    from vae_augment import distributions as D

    raw = model.bank_scale.numpy() if original is None else original
    sd = D.normal_scale(raw).numpy()
    _, _, p_sd = scales(model)
    target = np.sqrt(sd ** 2 + (floor * p_sd[:, None, :]) ** 2) - D.MIN_SCALE
    model.bank_scale.assign(np.log(np.expm1(np.maximum(target, 1e-6))).astype(np.float32))
    return raw


def privacy(args):
    from vae_augment.api import fit, sample
    from vae_augment.evaluation import evaluate

    real = pq.read_table(args.data)
    counts = pc.value_counts(real.column(args.label)).to_pylist()
    top = max(c["counts"] for c in counts)
    need = {c["values"]: top - c["counts"] for c in counts if c["counts"] < top}
    kw = {"beta": args.beta} if args.beta is not None else {}
    art = fit(args.data, label=args.label, seed=0, verbose=0, **kw)
    sd, filled, p_sd = scales(art.model)
    for c in range(len(filled)):
        med = np.median(sd[c, :max(int(filled[c]), 1)], axis=0)
        print(f"class {c}: stored sd median per dim {[round(float(v), 3) for v in med]}; "
              f"prior sd {[round(float(v), 3) for v in p_sd[c]]}", flush=True)

    def share(syn):
        p = evaluate(real, syn, label=args.label, seed=0, sections=["privacy"],
                     progress=False)["privacy"]
        return (round(p["share_closer_than_holdout_p05"], 3),
                round(p["dcr_synthetic"]["median"], 3), round(p["dcr_holdout"]["median"], 3))

    original = art.model.bank_scale.numpy()
    for floor in (float(f) for f in args.floors.split(",")):
        apply_floor(art.model, floor, original)
        for guided in (True, False):
            syn = sample(art, need, seed=0, guided=guided)
            print(f"floor {floor}", "guided" if guided else "plain", share(syn), flush=True)


def utility(args, rest):
    import vae_augment.api as api

    fit = api.fit

    def floored(*a, **kw):
        art = fit(*a, **kw)
        apply_floor(art.model, args.floor)
        return art

    api.fit = floored
    sys.path.insert(0, os.path.join(HERE, ".."))
    import utility as bench

    sys.argv = ["utility.py", *rest]
    bench.main()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("privacy")
    p.add_argument("--data", default=BUNDLED)
    p.add_argument("--label", default="churn")
    p.add_argument("--beta", type=float, default=None)
    p.add_argument("--floors", default="0,0.25,0.5,1")
    u = sub.add_parser("utility")
    u.add_argument("--floor", type=float, required=True)
    argv = sys.argv[1:]
    rest = []
    if "--" in argv:
        i = argv.index("--")
        argv, rest = argv[:i], argv[i + 1:]
    args = ap.parse_args(argv)
    if args.cmd == "privacy":
        privacy(args)
    else:
        utility(args, rest)


if __name__ == "__main__":
    main()
