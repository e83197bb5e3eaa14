"""`vae-augment encode` and `vae-augment score`."""

from __future__ import annotations

import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from vae_augment import scoring
from vae_augment.artifact import load_artifact
from vae_augment.cli import main
from vae_augment.errors import SchemaError


@pytest.fixture(scope="module")
def artifact(mixed_artifact):
    return load_artifact(str(mixed_artifact))


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_score_appends_negative_elbo(capsys, tmp_path, mixed_parquet, mixed_artifact, artifact):
    out = tmp_path / "scored.parquet"
    code, stdout, _ = run(capsys, "score", mixed_parquet, out, "--model-dir", mixed_artifact, "--quiet")
    assert code == 0
    assert json.loads(stdout) == {"output": str(out), "rows_written": 300, "column": "anomaly_score",
                                  "method": "elbo", "kind": "conditional"}
    table = pq.read_table(out)
    source = pq.read_table(mixed_parquet)
    assert table.select(source.column_names).equals(source)
    assert table.schema.field("anomaly_score").type == pa.float32()
    np.testing.assert_allclose(table.column("anomaly_score").to_numpy(),
                               scoring.anomaly_scores(artifact, source), rtol=1e-4, atol=1e-4)


def test_encode_appends_latent_means(capsys, tmp_path, mixed_parquet, mixed_artifact, artifact):
    out = tmp_path / "z.parquet"
    code, stdout, _ = run(capsys, "encode", mixed_parquet, out, "--model-dir", mixed_artifact,
                          "--column", "z")
    assert code == 0 and json.loads(stdout)["rows_written"] == 300
    z = pq.read_table(out).column("z").combine_chunks()
    assert z.type == pa.list_(pa.float32(), artifact.model.latent_dim)
    got = np.asarray(z.flatten()).reshape(300, -1)
    want = scoring.encode_latent(artifact, pq.read_table(mixed_parquet))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_score_iwae_is_seeded(capsys, tmp_path, mixed_parquet, mixed_artifact):
    outs = []
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        out = tmp_path / f"{name}.parquet"
        code, _, _ = run(capsys, "score", mixed_parquet, out, "--model-dir", mixed_artifact,
                         "--method", "iwae", "--k", "8", "--seed", seed, "--latent", "--quiet")
        assert code == 0
        outs.append(pq.read_table(out))
    a, b, c = (t.column("anomaly_score").to_numpy() for t in outs)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert outs[0].column_names[-2:] == ["latent", "anomaly_score"]
    # both scores rank rows by how atypical they are for their class
    elbo_out = tmp_path / "elbo.parquet"
    run(capsys, "score", mixed_parquet, elbo_out, "--model-dir", mixed_artifact, "--quiet")
    elbo = pq.read_table(elbo_out).column("anomaly_score").to_numpy()
    assert np.isfinite(a).all() and np.corrcoef(a, elbo)[0, 1] > 0.5


def test_python_iwae_scores_equal_the_cli_and_leave_null_labels_nan(capsys, tmp_path,
                                                                    mixed_parquet, mixed_artifact,
                                                                    artifact):
    import vae_augment as va

    out = tmp_path / "iwae.parquet"
    run(capsys, "score", mixed_parquet, out, "--model-dir", mixed_artifact, "--method", "iwae",
        "--k", "8", "--seed", "3", "--quiet")
    source = pq.read_table(mixed_parquet)
    got = va.anomaly_scores(artifact, source, method="iwae", k=8, seed=3)
    np.testing.assert_allclose(got, pq.read_table(out).column("anomaly_score").to_numpy(),
                               rtol=1e-5, atol=1e-5)
    labels = source.column("label").to_pylist()
    labels[5] = None  # a row that cannot be conditioned on a class scores NaN, in place
    nulled = source.set_column(source.schema.get_field_index("label"), "label",
                               pa.array(labels, source.schema.field("label").type))
    partial = va.anomaly_scores(artifact, nulled, method="iwae", k=8, seed=3)
    assert np.isnan(partial[5]) and np.isfinite(np.delete(partial, 5)).all()
    for kwargs, message in (({"method": "kl"}, "`method` must be one of"),
                            ({"method": "iwae", "k": 0}, "`k` must be a positive integer")):
        with pytest.raises(va.VAEAugmentError, match=message):
            va.anomaly_scores(artifact, source, **kwargs)


def test_iwae_score_of_a_row_depends_on_the_row_not_its_position(artifact, mixed_table):
    """The IWAE noise comes from the seed and each row's values: reordering, splitting or
    duplicating rows leaves every row's score as it was (exactly: same noise, same ops per
    row), while another seed or another k changes it."""
    t = mixed_table.slice(0, 120)
    base = scoring.anomaly_scores(artifact, t, method="iwae", k=np.int64(8), seed=5)
    order = np.random.default_rng(0).permutation(t.num_rows)
    shuffled = scoring.anomaly_scores(artifact, t.take(order), method="iwae", k=8, seed=5)
    np.testing.assert_allclose(shuffled, base[order], rtol=1e-5, atol=1e-5)
    chunks = np.concatenate([scoring.anomaly_scores(artifact, t.slice(i, 7), method="iwae",
                                                    k=8, seed=5) for i in range(0, 120, 7)])
    np.testing.assert_allclose(chunks, base, rtol=1e-5, atol=1e-5)
    twice = scoring.anomaly_scores(artifact, t.take([3, 3, 40, 3]), method="iwae", k=8, seed=5)
    np.testing.assert_allclose(twice, base[[3, 3, 40, 3]], rtol=1e-5, atol=1e-5)
    other = scoring.anomaly_scores(artifact, t, method="iwae", k=8, seed=6)
    assert np.abs(other - base).mean() > 1e-3
    # the noise is standard normal, independent across rows, samples and latent dimensions
    x = artifact.encoding.encode(mixed_table)
    noise = scoring.row_noise(x, 5, 16)
    draws = np.stack([noise(s) for s in range(8)])  # [k, n, d]
    assert abs(draws.mean()) < 0.05 and abs(draws.std() - 1) < 0.05
    flat = draws.reshape(8, -1)
    assert np.abs(np.corrcoef(flat)[np.triu_indices(8, 1)]).max() < 0.1


def test_iw_bound_is_the_same_however_its_samples_are_stacked(artifact, mixed_table,
                                                              monkeypatch):
    """`iw_bound` puts several importance samples through the decoder in one pass, as many
    as `IW_MAX_VALUES` allows: one sample a pass, a pass of 3 (k=8 leaves a pass of 2) and
    all 8 at once give the same bound for both noise sources, and sample s keeps its noise."""
    model = artifact.model
    x = artifact.encoding.encode(mixed_table.slice(0, 40))
    noise = scoring.row_noise(x, 5, model.latent_dim)
    n = 40
    width = max([int(np.prod(np.shape(v)[1:])) for v in x.values()] + list(model.hidden))
    got = {}
    for per_pass in (1, 3, 8):
        monkeypatch.setattr(type(model), "IW_MAX_VALUES", per_pass * n * width)
        got[per_pass] = (model.iw_bound(x, 8, noise=noise).numpy(),
                         model.iw_bound(x, 8, np.array([4, 2], np.int32)).numpy())
    for per_pass in (3, 8):
        for a, b in zip(got[per_pass], got[1]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)
    # inside a tf.function of unknown batch (no row count to size a pass by) it still runs
    import tensorflow as tf

    spec = {k: tf.TensorSpec([None, *np.shape(v)[1:]], tf.as_dtype(np.asarray(v).dtype))
            for k, v in x.items()}
    graph = tf.function(lambda xx: model.iw_bound(xx, 8, tf.constant([4, 2], tf.int32)),
                        input_signature=[spec])
    np.testing.assert_allclose(graph({k: tf.constant(v) for k, v in x.items()}).numpy(),
                               got[1][1], rtol=1e-5, atol=1e-5)
    # one sample by hand: log p(x | z, y) + log p(z | y) - log q(z | x, y) at z = mu + sd * noise(0)
    from vae_augment import distributions as D

    mu, raw = model.encode_params(x)
    q = D.gaussian(mu, raw)
    p_mu, p_raw = model.prior_params(x["y"])
    z = q.loc + q.scale * noise(0)
    params = model.decode_params(z, x["y"])
    recon = sum(D.feature_log_prob(model.layout, params, x).values())
    one = (recon + np.sum(D.gaussian(p_mu, p_raw).log_prob(z), 1)
           - np.sum(q.log_prob(z), 1))
    np.testing.assert_allclose(model.iw_bound(x, 1, noise=noise).numpy(), one, rtol=1e-5,
                               atol=1e-4)


def test_python_scoring_takes_dataframes_and_checks_its_arguments(artifact, mixed_table):
    """A DataFrame (e.g. `table.to_pandas()`) is converted to the model's column types."""
    from vae_augment.errors import SchemaError, VAEAugmentError

    t = mixed_table.slice(0, 30)
    frame = t.to_pandas().assign(extra=1.0)  # a column the model does not know is ignored
    np.testing.assert_allclose(scoring.anomaly_scores(artifact, frame, method="iwae", k=4),
                               scoring.anomaly_scores(artifact, t, method="iwae", k=4), rtol=1e-6)
    np.testing.assert_allclose(scoring.encode_latent(artifact, frame),
                               scoring.encode_latent(artifact, t), rtol=1e-6)
    with pytest.raises(SchemaError, match="`table` does not convert to the model's column types"):
        scoring.anomaly_scores(artifact, frame.assign(f="text"))
    with pytest.raises(VAEAugmentError, match=r"`table` must be a pyarrow Table or RecordBatch, "
                                              r"a pandas DataFrame or an Arrow stream "
                                              r"\(`__arrow_c_stream__`: Polars, DuckDB, ...\), "
                                              r"got list"):
        scoring.anomaly_scores(artifact, [1, 2])
    with pytest.raises(VAEAugmentError, match=r"`seed` must be an integer in \[0, 2\*\*32 - 1\], got None"):
        scoring.anomaly_scores(artifact, t, method="iwae", seed=None)


def test_score_rejects_bad_rows_and_writes_nothing(capsys, tmp_path, mixed_table, mixed_artifact):
    cats = mixed_table.column("s").to_pylist()
    cats[3] = "never-seen"
    bad = mixed_table.set_column(mixed_table.schema.get_field_index("s"), "s", pa.array(cats))
    src = tmp_path / "bad.parquet"
    pq.write_table(bad, src)
    out = tmp_path / "o.parquet"
    code, stdout, err = run(capsys, "score", src, out, "--model-dir", mixed_artifact)
    assert code == 2 and stdout == ""
    assert err.startswith("vae-augment: error: column 's' has categories ['never-seen']")
    assert len(err.strip().splitlines()) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == [src]


def test_unseen_categories_can_score_infinite(capsys, tmp_path, mixed_table, mixed_artifact,
                                              artifact):
    import vae_augment as va

    cats = mixed_table.column("s").to_pylist()
    cats[3] = cats[40] = "never-seen"
    bad = mixed_table.set_column(mixed_table.schema.get_field_index("s"), "s", pa.array(cats))
    src, out = tmp_path / "bad.parquet", tmp_path / "o.parquet"
    pq.write_table(bad, src)
    code, _, _ = run(capsys, "score", src, out, "--model-dir", mixed_artifact, "--latent",
                     "--unseen-categories", "inf", "--quiet")
    assert code == 0
    got = pq.read_table(out)
    assert got.select(bad.column_names).equals(bad)  # every row, unchanged
    score = got.column("anomaly_score").to_numpy()
    z = np.asarray(got.column("latent").combine_chunks().flatten()).reshape(len(got), -1)
    unseen = np.zeros(len(bad), bool)
    unseen[[3, 40]] = True
    assert np.isposinf(score[unseen]).all() and np.isnan(z[unseen]).all()
    rest = bad.filter(pa.array(~unseen))  # the other rows score as they do on their own
    np.testing.assert_allclose(score[~unseen], scoring.anomaly_scores(artifact, rest), rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(z[~unseen], scoring.encode_latent(artifact, rest), rtol=1e-4,
                               atol=1e-5)
    assert np.array_equal(scoring.unseen_category_rows(artifact.encoding, bad), unseen)
    iwae = va.anomaly_scores(artifact, bad, method="iwae", k=4, unseen="inf")
    assert np.isposinf(iwae[unseen]).all() and np.isfinite(iwae[~unseen]).all()
    # rows keep their positions, so another row's unseen category leaves a row's IWAE noise
    # (drawn per position) and its score as they were
    before = va.anomaly_scores(artifact, mixed_table, method="iwae", k=4)
    np.testing.assert_allclose(iwae[~unseen], before[~unseen], rtol=1e-5, atol=1e-5)
    # the rest of an unseen row is still checked: an unknown class is an error, not +inf
    labels = bad.column("label").to_pylist()
    labels[3] = "zz"
    both = bad.set_column(bad.schema.get_field_index("label"), "label",
                          pa.array(labels, bad.schema.field("label").type))
    with pytest.raises(va.VAEAugmentError, match="classes"):
        va.anomaly_scores(artifact, both, unseen="inf")
    with pytest.raises(va.VAEAugmentError, match="`unseen` must be one of"):
        va.anomaly_scores(artifact, bad, unseen="skip")


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--column", "f"], "already has a column named 'f' (the new column's name, --column); "
                            "give --column another name"),
        (["--latent", "--latent-column", "s"], "give --latent-column another name"),
        (["--method", "iwae", "--k", "0"], "`--k` must be a positive integer, got 0"),
    ],
)
def test_score_argument_errors(capsys, tmp_path, mixed_parquet, mixed_artifact, extra, message):
    code, _, err = run(capsys, "score", mixed_parquet, tmp_path / "o.parquet", "--model-dir",
                       mixed_artifact, *extra)
    assert code == 2 and message in err


def test_existing_output_needs_overwrite(capsys, tmp_path, mixed_parquet, mixed_artifact):
    out = tmp_path / "o.parquet"
    out.write_bytes(b"keep")
    code, _, err = run(capsys, "encode", mixed_parquet, out, "--model-dir", mixed_artifact)
    assert code == 2 and "pass --overwrite" in err and out.read_bytes() == b"keep"
    code, _, _ = run(capsys, "encode", mixed_parquet, out, "--model-dir", mixed_artifact, "--overwrite")
    assert code == 0 and pq.read_table(out).num_rows == 300


def test_null_label_is_a_clear_error(capsys, tmp_path, mixed_table, mixed_artifact):
    labels = mixed_table.column("label").to_pylist()
    labels[0] = None
    src = tmp_path / "n.parquet"
    pq.write_table(mixed_table.set_column(mixed_table.schema.get_field_index("label"), "label",
                                          pa.array(labels)), src)
    code, _, err = run(capsys, "score", src, tmp_path / "o.parquet", "--model-dir", mixed_artifact)
    assert code == 2 and "the model's label column 'label' is null" in err


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "encode" in out and "score" in out


def _score_label_cli(capsys, tmp_path, table, model_dir, *flags):
    """`score --kind label FLAGS` of `table` written to t.parquet: (exit code, stdout, the
    output table)."""
    data = tmp_path / "t.parquet"
    pq.write_table(table, data)
    code, stdout, _ = run(capsys, "score", data, tmp_path / "o.parquet", "--model-dir",
                          model_dir, "--kind", "label", *flags)
    return code, stdout, pq.read_table(tmp_path / "o.parquet") if code == 0 else None


def _with_column(table: pa.Table, name: str, values, type_=None) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name,
                            pa.array(values, type_ or table.schema.field(name).type))


def test_scores_keep_growing_past_the_training_range(artifact, mixed_table):
    """A number past the training range is extrapolated, not clipped to the range's end:
    values 5, 50, 5,000 and 5 million past the largest 'f' scored alike before."""
    f = mixed_table.column("f")
    row = mixed_table.slice(int(np.flatnonzero(pc_valid(f))[0]), 1)
    lo, hi = float(np.nanmin(f.to_numpy(zero_copy_only=False))), float(
        np.nanmax(f.to_numpy(zero_copy_only=False)))
    values = [hi, hi + 5, hi + 50, hi + 5e3, hi + 5e6, lo - 5, lo - 50]
    t = pa.concat_tables([_with_column(row, "f", [v]) for v in values])
    score = scoring.anomaly_scores(artifact, t)
    assert np.all(np.isfinite(score))
    assert np.all(np.diff(score[:5]) > 0), score
    assert score[6] > score[5] > score[0] - 1.0
    iwae = scoring.anomaly_scores(artifact, t, method="iwae", k=4)
    assert np.all(np.diff(iwae[1:5]) > 0), iwae
    assert np.isfinite(scoring.encode_latent(artifact, t)).all()
    # the model's training and generation encoding still ends at the range
    enc = artifact.encoding
    assert np.ptp(enc.encode(t.slice(1, 4))["num"][:, 0]) == 0.0


def test_a_column_constant_or_null_in_training_judges_new_values(capsys, tmp_path):
    """A column constant in training (5.0 in every row) encoded every value as the constant:
    7 and 1e9 scored as 5 did. A column null in every training row had its values ignored.
    Now a value off the constant scores higher the further off it is, and a value in the
    null column is an error naming it, as a null in a column that had none is (session 50's
    audit)."""
    from vae_augment.api import fit

    from .conftest import FAST

    rng = np.random.default_rng(0)
    n = 300
    train = pa.table({"x": rng.normal(size=n).round(3), "version": np.full(n, 5.0),
                      "discount": pa.nulls(n, pa.float64()),
                      "label": rng.choice(["a", "b"], n).tolist()})
    pq.write_table(train, tmp_path / "train.parquet")
    art = fit(str(tmp_path / "train.parquet"), label="label", model_dir=str(tmp_path / "m"),
              seed=0, **FAST)
    row = train.slice(0, 1)
    t = pa.concat_tables([_with_column(row, "version", [v]) for v in (5.0, 7.0, 50.0, 1e9)])
    for method in ("elbo", "iwae"):
        score = scoring.anomaly_scores(art, t, method=method, k=4)
        assert np.all(np.diff(score) > 0), (method, score)
    below = scoring.anomaly_scores(art, _with_column(row, "version", [3.0]))
    assert below[0] > score[0]
    latent = scoring.encode_latent(art, t)
    assert np.isfinite(latent).all() and not np.allclose(latent[0], latent[3])
    # the model's training and generation encoding is unchanged: the constant's code
    assert np.ptp(art.encoding.encode(t)["num"][:, 1]) == 0.0

    bad = train.slice(0, 3).set_column(2, "discount", pa.array([None, 0.5, None]))
    message = ("column 'discount' has values but was null in every training row (1 row; the "
               "first is row 1)")
    with pytest.raises(SchemaError, match=re.escape(message)):
        scoring.anomaly_scores(art, bad)
    with pytest.raises(SchemaError, match=re.escape(message)):
        scoring.encode_latent(art, bad)
    pq.write_table(bad, tmp_path / "bad.parquet")
    code, _, err = run(capsys, "score", tmp_path / "bad.parquet", tmp_path / "out.parquet",
                       "--model-dir", tmp_path / "m", "--quiet")
    assert code == 2 and message in err and not (tmp_path / "out.parquet").exists()
    assert np.isfinite(scoring.anomaly_scores(art, train.slice(0, 3))).all()  # nulls: fine


def test_a_null_among_a_dictionary_labels_values_is_a_null_label(artifact, mixed_table):
    """A dictionary label whose null is a dictionary value (not a null index) gave "has
    classes [None] the model was not trained on" in Python, where a null label gives NaN
    (session 50's audit): pyarrow's `is_valid` sees only the indices."""
    rows = mixed_table.slice(0, 4)
    codes = pa.array([3, 0, 1, 2], pa.int32())
    values = pa.array([*dict.fromkeys(["a", "b", "c"]), None])
    label = pa.DictionaryArray.from_arrays(codes, values)
    table = rows.set_column(rows.schema.get_field_index("label"), "label", label)
    plain = rows.set_column(rows.schema.get_field_index("label"), "label",
                            pa.array([None, "a", "b", "c"]))
    for kind in ("conditional", "label"):
        got = scoring.anomaly_scores(artifact, table, kind=kind)
        want = scoring.anomaly_scores(artifact, plain, kind=kind)
        assert np.isnan(got[0]) and np.isfinite(got[1:]).all()
        np.testing.assert_allclose(got[1:], want[1:], rtol=1e-6)
    latent = scoring.encode_latent(artifact, table)
    assert np.isnan(latent[0]).all() and np.isfinite(latent[1:]).all()


def pc_valid(col) -> np.ndarray:
    import pyarrow.compute as pc

    return pc.is_valid(col).to_numpy(zero_copy_only=False)


def test_python_scoring_names_a_label_of_the_wrong_type(artifact, mixed_table):
    from vae_augment.errors import SchemaError

    t = _with_column(mixed_table, "label", list(range(mixed_table.num_rows)), pa.int64())
    for fn in (scoring.anomaly_scores, scoring.encode_latent):
        with pytest.raises(SchemaError, match="^the model's label column 'label' has type "
                                              "int64, which does not match the model's "
                                              "classes"):
            fn(artifact, t)


def test_scoring_names_the_models_label_column_not_a_label_argument(artifact, mixed_table,
                                                                    mixed_artifact, tmp_path):
    """The scoring functions take no `label`: an unknown class or a missing label column
    said "`label` column 'label' ...", as if they did (the CLI's `score` said "the model's
    label column"); `balance`, which takes `label`, still names it so."""
    from vae_augment.api import balance

    labels = mixed_table.column("label").to_pylist()
    t = _with_column(mixed_table, "label", ["zz"] + labels[1:])
    unknown = (r"^the model's label column 'label' has classes \['zz'\] the model was not "
               r"trained on \(known: \['a', 'b', 'c'\]\)")
    for fn in (scoring.anomaly_scores, scoring.encode_latent,
               lambda a, x: scoring.label_scores(a, x)):
        with pytest.raises(SchemaError, match=unknown):
            fn(artifact, t)
    with pytest.raises(SchemaError, match=r"^the model's label column 'label' not found\. "):
        scoring.anomaly_scores(artifact, t.drop_columns(["label"]), kind="label")
    with pytest.raises(SchemaError, match=r"^`label` column 'y' not found\. "):
        balance(t, str(tmp_path / "b.parquet"), label="y", model_dir=str(mixed_artifact))


def test_encode_can_give_unseen_categories_nan_latents(capsys, tmp_path, mixed_table,
                                                     mixed_artifact, artifact):
    cats = mixed_table.column("s").to_pylist()
    cats[3] = "never-seen"
    bad = _with_column(mixed_table, "s", cats)
    z = scoring.encode_latent(artifact, bad, unseen="inf")
    assert np.isnan(z[3]).all() and np.isfinite(np.delete(z, 3, axis=0)).all()
    with pytest.raises(Exception, match="never-seen"):
        scoring.encode_latent(artifact, bad)
    src, out = tmp_path / "bad.parquet", tmp_path / "o.parquet"
    pq.write_table(bad, src)
    code, _, err = run(capsys, "encode", src, out, "--model-dir", mixed_artifact)
    assert code == 2 and "never-seen" in err and not out.exists()
    code, _, err = run(capsys, "encode", src, out, "--model-dir", mixed_artifact,
                       "--unseen-categories", "inf")
    assert code == 0 and "encoded 300 rows" in err
    got = np.asarray(pq.read_table(out).column("latent").combine_chunks().flatten())
    np.testing.assert_array_equal(got.reshape(300, -1), z)


def test_bad_numbers_are_named_with_their_rows(capsys, tmp_path, mixed_table, mixed_artifact):
    f = mixed_table.column("f").to_pylist()
    f[7] = f[9] = float("nan")
    src = tmp_path / "nan.parquet"
    pq.write_table(_with_column(mixed_table, "f", f), src)
    code, _, err = run(capsys, "score", src, tmp_path / "o.parquet", "--model-dir",
                       mixed_artifact)
    assert code == 2
    assert "column 'f' contains NaN or ±inf (2 rows; the first is row 7)" in err


def test_overwrite_never_deletes_a_directory_it_did_not_write(capsys, tmp_path, mixed_parquet,
                                                             mixed_artifact):
    from vae_augment.errors import InputError
    from vae_augment.io import AtomicParquetWriter

    d = tmp_path / "data"
    d.mkdir()
    (d / "notes.txt").write_text("keep")
    code, _, err = run(capsys, "score", mixed_parquet, d, "--model-dir", mixed_artifact,
                       "--overwrite")
    assert code == 2 and "is a directory holding files" in err and "give a file path" in err
    code, _, err = run(capsys, "encode", mixed_parquet, d, "--model-dir", mixed_artifact,
                       "--overwrite", "--output-shards", "2")
    assert code == 2 and "'notes.txt'" in err
    assert sorted(p.name for p in d.iterdir()) == ["notes.txt"]
    # a directory holding only an earlier run's shards is replaced, as before
    schema = pa.schema([("a", pa.int64())])
    shards = tmp_path / "shards"
    with AtomicParquetWriter(shards, schema, shards=2) as w:
        w.write(pa.table({"a": [1, 2, 3]}))
    with AtomicParquetWriter(shards, schema, overwrite=True, shards=3) as w:
        w.write(pa.table({"a": [4]}))
    assert sorted(p.name for p in shards.iterdir()) == [
        f"part-{i:05d}-of-00003.parquet" for i in range(3)]
    with AtomicParquetWriter(shards, schema, overwrite=True) as w:  # and by one file
        w.write(pa.table({"a": [5]}))
    assert shards.is_file()
    (d / "part-00000-of-00001.parquet").write_bytes(b"")  # shards beside other files
    with pytest.raises(InputError, match="'notes.txt'"):
        AtomicParquetWriter(d, schema, overwrite=True, shards=1)


def test_dead_letter_lines_are_strict_json():
    from vae_augment.beam.rows import BadRows, bad_rows_json

    rows = pa.table({"x": [float("nan"), float("-inf"), 1.5],
                     "v": [[1.0, float("inf")], None, [2.0, 3.0]]})
    lines = list(bad_rows_json(BadRows(rows, "why")))

    def refuse(name):
        raise AssertionError(f"non-standard JSON constant {name}")

    parsed = [json.loads(line, parse_constant=refuse) for line in lines]
    assert [p["row"]["x"] for p in parsed] == ["NaN", "-Infinity", 1.5]
    assert parsed[0]["row"]["v"] == [1.0, "Infinity"] and parsed[0]["error"] == "why"
    assert "file" not in parsed[0]  # a plain table's rows: no file known
    # rows read with their file name (the Beam jobs): the file, between the error and the row
    named = json.loads(next(bad_rows_json(BadRows(rows, "why", "in/part-7.parquet"))))
    assert list(named) == ["error", "file", "row"] and named["file"] == "in/part-7.parquet"


def test_a_new_count_in_an_integer_category_suggests_modelling_it_as_a_number(
        capsys, tmp_path, mixed_table, mixed_artifact):
    small = mixed_table.column("small").to_pylist()
    small[4] = 9
    src = tmp_path / "calls.parquet"
    pq.write_table(_with_column(mixed_table, "small", small), src)
    code, _, err = run(capsys, "score", src, tmp_path / "o.parquet", "--model-dir",
                       mixed_artifact)
    assert code == 2 and "column 'small' has categories [9] the model was not trained on " \
        "(1 row; the first is row 4); an integer column with few values is modelled as a " \
        "category: fit with --numeric small to model it as a number" in err


def test_a_fraction_in_an_integer_column_scores_from_pandas_as_from_parquet(artifact,
                                                                           mixed_table):
    """`i` is int64 in the model: a Parquet file of doubles scored, the same DataFrame was
    refused ("Float value 128.500000 was truncated")."""
    t = _with_column(mixed_table, "i",
                     (mixed_table.column("i").to_numpy() + 0.5).tolist(), pa.float64())
    from_arrow = scoring.anomaly_scores(artifact, t)
    from_pandas = scoring.anomaly_scores(artifact, t.to_pandas())
    np.testing.assert_allclose(from_pandas, from_arrow, rtol=1e-6)


@pytest.mark.parametrize("command", ["score", "encode"])
def test_dead_letter_takes_the_bad_rows_and_the_rest_are_scored(capsys, tmp_path, mixed_table,
                                                                mixed_artifact, artifact, command):
    cats = mixed_table.column("s").to_pylist()
    cats[3] = "never-seen"
    labels = mixed_table.column("label").to_pylist()
    labels[7] = None
    labels[8] = "no-such-class"
    bad = mixed_table.set_column(mixed_table.schema.get_field_index("s"), "s", pa.array(cats))
    bad = bad.set_column(bad.schema.get_field_index("label"), "label", pa.array(labels))
    src, out, dl = tmp_path / "bad.parquet", tmp_path / "o.parquet", tmp_path / "bad.jsonl"
    pq.write_table(bad, src)
    code, stdout, err = run(capsys, command, src, out, "--model-dir", mixed_artifact,
                            "--dead-letter", dl, "--quiet")
    assert code == 0, err
    assert json.loads(stdout)["bad_rows"] == 3
    done = "scored" if command == "score" else "encoded"
    assert f"3 row(s) could not be {done}" in err
    lines = [json.loads(line) for line in dl.read_text().splitlines()]
    assert [line["row"]["label"] for line in lines] == [labels[3], None, "no-such-class"]
    assert "never-seen" in lines[0]["error"] and lines[0]["row"]["s"] == "never-seen"
    good = [i for i in range(bad.num_rows) if i not in (3, 7, 8)]
    written = pq.read_table(out)
    assert written.drop_columns([written.column_names[-1]]).equals(bad.take(good))
    # the good rows' values are those of scoring them alone
    alone = tmp_path / "good.parquet"
    pq.write_table(bad.take(good), alone)
    run(capsys, command, alone, tmp_path / "alone.parquet", "--model-dir", mixed_artifact)
    assert pq.read_table(tmp_path / "alone.parquet").equals(written)
    # a run with no bad rows writes no dead letters, and --overwrite drops the stale ones
    code, stdout, err = run(capsys, command, alone, out, "--model-dir", mixed_artifact,
                            "--dead-letter", dl, "--overwrite", "--quiet")
    assert code == 0 and json.loads(stdout)["bad_rows"] == 0 and not dl.exists()


def test_dead_letter_does_not_take_a_whole_file_of_another_schema(capsys, tmp_path, mixed_table,
                                                                  mixed_artifact):
    src, out, dl = tmp_path / "x.parquet", tmp_path / "o.parquet", tmp_path / "bad.jsonl"
    pq.write_table(mixed_table.drop_columns(["s"]), src)
    code, _, err = run(capsys, "score", src, out, "--model-dir", mixed_artifact,
                       "--dead-letter", dl)
    assert code == 2 and "does not match the schema the model was trained on" in err
    assert not out.exists() and not dl.exists()
    code, _, err = run(capsys, "score", src, out, "--model-dir", mixed_artifact,
                       "--dead-letter", out)
    assert code == 2 and "the dead-letter file and the output are both" in err


def test_an_image_column_of_another_size_is_an_error_naming_it(capsys, tmp_path, mixed_table,
                                                               mixed_artifact, artifact):
    """An image column of 49 values where the model has 64 was a numpy reshape ValueError
    (a traceback from the CLI); a variable-length list with one short row named no row."""
    img = np.stack(mixed_table.column("img").to_numpy(zero_copy_only=False))
    i = mixed_table.schema.get_field_index("img")
    small = mixed_table.set_column(i, "img", pa.FixedSizeListArray.from_arrays(
        pa.array(img[:, :49].reshape(-1)), 49))
    with pytest.raises(SchemaError, match=r"column 'img' has type .*49.*expected a list of 64 "
                                          r"numbers \(a fixed-size list, or a list with 64 "
                                          r"values in every row\)"):
        scoring.anomaly_scores(artifact, small)
    src = tmp_path / "small.parquet"
    pq.write_table(small, src)
    code, _, err = run(capsys, "score", src, tmp_path / "o.parquet", "--model-dir", mixed_artifact)
    assert code == 2 and "column 'img' has type" in err and "Traceback" not in err
    rows = [list(r) for r in img]
    rows[5] = rows[5][:10]
    ragged = mixed_table.set_column(i, "img", pa.array(rows, pa.list_(pa.uint8())))
    with pytest.raises(SchemaError, match=r"column 'img' has lists of another length .*row 5"):
        scoring.encode_latent(artifact, ragged)


def test_python_scoring_takes_a_model_directory(mixed_table, mixed_artifact, artifact):
    """As `vae_augment.sample` does; a path was an AttributeError ('str' object has no
    attribute 'encoding')."""
    rows = mixed_table.slice(0, 20)
    for model_dir in (mixed_artifact, str(mixed_artifact)):
        np.testing.assert_array_equal(scoring.anomaly_scores(model_dir, rows),
                                      scoring.anomaly_scores(artifact, rows))
        np.testing.assert_array_equal(scoring.encode_latent(model_dir, rows),
                                      scoring.encode_latent(artifact, rows))


@pytest.mark.parametrize("argv", [["score", "--column", ""], ["encode", "--column", ""],
                                  ["score", "--latent", "--latent-column", ""]])
def test_an_empty_new_column_name_is_refused(capsys, tmp_path, mixed_parquet, mixed_artifact,
                                             argv):
    """It wrote a column named '' (the Beam job refuses one)."""
    out = tmp_path / "o.parquet"
    code, _, err = run(capsys, argv[0], mixed_parquet, out, "--model-dir", mixed_artifact,
                       *argv[1:])
    assert code == 2 and "the new column needs a non-empty name, got ''" in err
    assert not out.exists()


def test_label_errors_name_their_rows(capsys, tmp_path, mixed_table, mixed_artifact):
    """A null or unknown label named no row (the other bad values do), in the error and in a
    dead letter; the unknown class's rows are named, not an earlier null label's."""
    labels = mixed_table.column("label").to_pylist()
    labels[4], labels[6] = None, "no-such-class"
    i = mixed_table.schema.get_field_index("label")
    src, out, dl = tmp_path / "bad.parquet", tmp_path / "o.parquet", tmp_path / "bad.jsonl"
    pq.write_table(mixed_table.set_column(i, "label", pa.array(labels)), src)
    code, _, err = run(capsys, "score", src, out, "--model-dir", mixed_artifact)
    assert code == 2 and "['no-such-class']" in err and "(1 row; the first is row 6)" in err
    code, _, err = run(capsys, "encode", src, out, "--model-dir", mixed_artifact,
                       "--dead-letter", dl, "--quiet")
    assert code == 0, err
    errors = [json.loads(line)["error"] for line in dl.read_text().splitlines()]
    assert errors[0].endswith("is null; every row needs its class to be encoded "
                              "(row 4 of the input)")
    assert "['no-such-class']" in errors[1] and errors[1].endswith("(row 6 of the input)")


def test_an_error_in_a_later_file_names_the_rows_position_in_the_input(capsys, tmp_path,
                                                                       mixed_table,
                                                                       mixed_artifact):
    """It counted from the file's (the batch's) first row: 'row 3' for the input's row 103."""
    (tmp_path / "in").mkdir()
    pq.write_table(mixed_table.slice(0, 100), tmp_path / "in" / "a.parquet")
    f = mixed_table.slice(100).column("f").to_pylist()
    f[3] = float("nan")
    later = mixed_table.slice(100)
    later = later.set_column(later.schema.get_field_index("f"), "f", pa.array(f))
    pq.write_table(later, tmp_path / "in" / "b.parquet")
    code, _, err = run(capsys, "score", tmp_path / "in", tmp_path / "o.parquet",
                       "--model-dir", mixed_artifact, "--quiet")
    assert code == 2 and "(1 row; the first is row 103 of the input)" in err


def test_the_model_scores_a_large_table_a_chunk_of_rows_at_a_time(monkeypatch, mixed_table,
                                                                   artifact):
    """The whole table went through the model at once: IWAE's k decodes of a CLI batch
    (65,536 rows) of 28x28 images took 4 GB for 10,000 rows and over 22 GB for 80,000."""
    full = {m: scoring.anomaly_scores(artifact, mixed_table, method=m, k=4) for m in ("elbo", "iwae")}
    z = scoring.encode_latent(artifact, mixed_table)
    seen = []
    for name in ("neg_elbo", "iw_bound", "encode_mean"):
        method = getattr(artifact.model, name)
        monkeypatch.setattr(artifact.model, name,
                            lambda x, *a, _m=method, **kw: seen.append(len(x["y"])) or _m(x, *a, **kw))
    monkeypatch.setattr(scoring, "CHUNK_ROWS", 64, raising=False)
    for m in ("elbo", "iwae"):
        np.testing.assert_allclose(scoring.anomaly_scores(artifact, mixed_table, method=m, k=4),
                                   full[m], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(scoring.encode_latent(artifact, mixed_table), z, rtol=1e-5,
                               atol=1e-5)
    assert seen and max(seen) == 64 and sum(seen) == 3 * mixed_table.num_rows


@pytest.mark.parametrize("command", ["score", "encode"])
def test_help_gives_a_partition_by_example_of_this_output(capsys, command):
    """It suggested --partition-by is_synthetic, a column score and encode do not write."""
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "is_synthetic" not in out and "--partition-by LABEL, the model's label column" in out


def test_a_dead_letter_file_in_a_missing_directory_is_refused_first(capsys, tmp_path,
                                                                   mixed_table, mixed_artifact):
    """The output was written, then the dead letters failed with a FileNotFoundError
    traceback: the bad rows lost and a rerun refused for the output's existing file."""
    labels = mixed_table.column("label").to_pylist()
    labels[2] = None
    src, out = tmp_path / "bad.parquet", tmp_path / "o.parquet"
    pq.write_table(mixed_table.set_column(mixed_table.schema.get_field_index("label"), "label",
                                          pa.array(labels)), src)
    code, _, err = run(capsys, "score", src, out, "--model-dir", mixed_artifact,
                       "--dead-letter", tmp_path / "nodir" / "bad.jsonl")
    assert code == 2 and "dead-letter directory" in err and "does not exist" in err
    assert not out.exists()


def test_encode_names_its_column_flag_when_the_name_is_taken(capsys, tmp_path, mixed_parquet,
                                                             mixed_artifact):
    code, _, err = run(capsys, "encode", mixed_parquet, tmp_path / "o.parquet", "--model-dir",
                       mixed_artifact, "--column", "i")
    assert code == 2 and "give --column another name" in err
    assert not (tmp_path / "o.parquet").exists()


@pytest.mark.parametrize("command", ["score", "encode"])
def test_an_output_that_is_the_input_is_refused_even_with_overwrite(capsys, tmp_path,
                                                                     mixed_table, mixed_artifact,
                                                                     command):
    data = tmp_path / "in.parquet"
    pq.write_table(mixed_table, data)
    before = data.read_bytes()
    code, _, err = run(capsys, command, data, data, "--model-dir", mixed_artifact, "--overwrite")
    assert code == 2 and f"output '{data}' is the input file" in err
    # a directory output holding the input (overwrite would empty it), and the dead letters
    code, _, err = run(capsys, command, data, tmp_path, "--model-dir", mixed_artifact,
                       "--overwrite", "--output-shards", "2")
    assert code == 2 and f"output '{tmp_path}' holds the input file '{data}'" in err
    code, _, err = run(capsys, command, data, tmp_path / "o.parquet", "--model-dir",
                       mixed_artifact, "--overwrite", "--dead-letter", data)
    assert code == 2 and "dead-letter file" in err and "is the input file" in err
    assert data.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet"]


def test_balance_refuses_to_write_over_its_input(capsys, tmp_path, mixed_table, mixed_artifact):
    data = tmp_path / "in.parquet"
    pq.write_table(mixed_table, data)
    before = data.read_bytes()
    code, _, err = run(capsys, "balance", data, data, "--label", "label", "--model-dir",
                       mixed_artifact, "--overwrite", "--quiet")
    assert code == 2 and "is the input file" in err and data.read_bytes() == before


def test_another_tables_model_is_named_as_the_likely_cause(capsys, tmp_path, mixed_table,
                                                          mixed_artifact):
    other = pa.table({"x": [1.0, 2.0], "y": ["u", "v"]})
    pq.write_table(other, tmp_path / "other.parquet")
    code, _, err = run(capsys, "score", tmp_path / "other.parquet", tmp_path / "o.parquet",
                       "--model-dir", mixed_artifact)
    assert code == 2 and "the model's label column 'label' not found" in err
    assert "Nor is any of the model's 9 other columns ('f', 'i', 'small', ...): is this another " \
           "table's model?" in err
    # the label alone missing: no such guess
    pq.write_table(mixed_table.drop(["label"]), tmp_path / "nolabel.parquet")
    code, _, err = run(capsys, "score", tmp_path / "nolabel.parquet", tmp_path / "o.parquet",
                       "--model-dir", mixed_artifact)
    assert code == 2 and "label column 'label' not found" in err and "another table" not in err


def _variable_length_images(table: pa.Table, short: tuple[int, ...] = ()) -> pa.Table:
    """`table` with its image column as a variable-length list<uint8> (64 values a row; the
    rows `short` 10)."""
    img = np.stack(table.column("img").to_numpy(zero_copy_only=False))
    rows = [list(r) for r in img]
    for i in short:
        rows[i] = rows[i][:10]
    i = table.schema.get_field_index("img")
    return table.set_column(i, pa.field("img", pa.list_(pa.uint8())),
                            pa.array(rows, pa.list_(pa.uint8())))


def test_a_variable_length_image_column_is_scored_with_and_without_dead_letters(
        capsys, tmp_path, mixed_table, mixed_artifact):
    """A list<uint8> image column whose rows all hold the model's 64 values was scored
    without --dead-letter and refused whole with it ("expected a fixed-size list of 64
    numbers"); a row of another length goes to the dead letter, naming the column and row,
    and the output keeps the input's schema exactly."""
    fixed, var, ragged = (tmp_path / f"{n}.parquet" for n in ("fixed", "var", "ragged"))
    pq.write_table(mixed_table, fixed)
    pq.write_table(_variable_length_images(mixed_table), var)
    pq.write_table(_variable_length_images(mixed_table, short=(3, 200)), ragged)
    code, _, err = run(capsys, "score", fixed, tmp_path / "f.parquet", "--model-dir",
                       mixed_artifact)
    assert code == 0, err
    want = pq.read_table(tmp_path / "f.parquet").column("anomaly_score")
    for extra in ([], ["--dead-letter", tmp_path / "v.jsonl"]):
        out = tmp_path / f"v{len(extra)}.parquet"
        code, _, err = run(capsys, "score", var, out, "--model-dir", mixed_artifact, *extra)
        assert code == 0, err
        got = pq.read_table(out)
        assert got.schema.equals(pq.read_schema(var).append(
            pa.field("anomaly_score", pa.float32(), False)), check_metadata=True)
        assert got.column("anomaly_score").equals(want)
    code, _, err = run(capsys, "score", ragged, tmp_path / "r.parquet", "--model-dir",
                       mixed_artifact, "--dead-letter", tmp_path / "r.jsonl")
    assert code == 0, err
    bad = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [b["error"] for b in bad] == [
        f"column 'img' has lists of another length than the model's 64 values (row {i} of "
        f"the input)" for i in (3, 200)]
    got = pq.read_table(tmp_path / "r.parquet")
    assert got.num_rows == mixed_table.num_rows - 2
    assert got.schema.equals(pq.read_schema(ragged).append(
        pa.field("anomaly_score", pa.float32(), False)), check_metadata=True)
    code, _, err = run(capsys, "encode", ragged, tmp_path / "e.parquet", "--model-dir",
                       mixed_artifact, "--dead-letter", tmp_path / "e.jsonl")
    assert code == 0 and "2 row(s) could not be encoded" in err, err  # it said "scored"
    assert pq.read_table(tmp_path / "e.parquet").num_rows == mixed_table.num_rows - 2
    code, _, err = run(capsys, "score", ragged, tmp_path / "r2.parquet", "--model-dir",
                       mixed_artifact)
    assert code == 2 and ("column 'img' has lists of another length than the model's 64 values "
                          "(2 rows; the first is row 3)") in err


def test_a_null_image_row_is_refused_when_the_model_saw_none(capsys, tmp_path, mixed_table,
                                                             mixed_artifact, artifact):
    """A list<uint8> image column (Parquet holds its null rows) with a null row, scored by a
    model trained without null images: an error naming the column and row, as a null number
    or category is (a dead letter with --dead-letter). It was scored as an all-zero image,
    a finite score for an image that is not there."""
    table = _variable_length_images(mixed_table)
    i = table.schema.get_field_index("img")
    rows = table.column("img").to_pylist()
    rows[7] = None
    table = table.set_column(i, table.schema.field("img"), pa.array(rows, pa.list_(pa.uint8())))
    with pytest.raises(SchemaError, match=r"column 'img' has nulls but had none when the model "
                                          r"was trained \(1 row; the first is row 7\)"):
        scoring.anomaly_scores(artifact, table)
    src = tmp_path / "nulls.parquet"
    pq.write_table(table, src)
    code, _, err = run(capsys, "score", src, tmp_path / "o.parquet", "--model-dir",
                       mixed_artifact)
    assert code == 2 and "column 'img' has nulls but had none" in err, err
    code, _, err = run(capsys, "score", src, tmp_path / "d.parquet", "--model-dir",
                       mixed_artifact, "--dead-letter", tmp_path / "d.jsonl")
    assert code == 0, err
    bad = [json.loads(line) for line in (tmp_path / "d.jsonl").read_text().splitlines()]
    assert [b["error"] for b in bad] == [
        "column 'img' has nulls but had none when the model was trained (row 7 of the input)"]


def test_marginal_scores_need_no_label_and_mix_the_classes_by_their_shares(artifact,
                                                                         mixed_table):
    """-log sum_c p(c) p(x | c): the per-class scores (each row labelled c in turn) mixed by
    the training shares; the label column's values, nulls or absence change nothing."""
    from scipy.special import logsumexp

    table = mixed_table.slice(0, 60)
    enc = artifact.encoding
    counts = np.array([enc.class_counts[c] for c in enc.classes], np.float64)
    for method in ("elbo", "iwae"):
        per_class = np.stack([
            scoring.anomaly_scores(artifact, table.set_column(
                table.schema.get_field_index("label"), "label", pa.array([c] * 60)),
                method=method, k=4)
            for c in enc.classes], axis=1).astype(np.float64)
        want = -logsumexp(np.log(counts / counts.sum()) - per_class, axis=1)
        got = scoring.anomaly_scores(artifact, table, method=method, k=4, kind="marginal")
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
        # no label column, or a null one: the same scores (conditional scores are NaN there)
        np.testing.assert_array_equal(
            scoring.anomaly_scores(artifact, table.drop(["label"]), method=method, k=4,
                                   kind="marginal"), got)
        nulls = table.set_column(table.schema.get_field_index("label"), "label",
                                 pa.nulls(60, pa.string()))
        assert np.isnan(scoring.anomaly_scores(artifact, nulls, method=method, k=4)).all()
        np.testing.assert_array_equal(
            scoring.anomaly_scores(artifact, nulls, method=method, k=4, kind="marginal"), got)
    with pytest.raises(Exception, match="`kind` must be one of"):
        scoring.anomaly_scores(artifact, table, kind="joint")


def test_score_marginal_from_the_cli_on_rows_without_a_label(capsys, tmp_path, mixed_table,
                                                             mixed_artifact, artifact):
    data = tmp_path / "nolabel.parquet"
    pq.write_table(mixed_table.drop(["label"]), data)
    out = tmp_path / "o.parquet"
    code, stdout, _ = run(capsys, "score", data, out, "--model-dir", mixed_artifact,
                          "--kind", "marginal", "--dead-letter", tmp_path / "bad.jsonl")
    assert code == 0 and json.loads(stdout)["kind"] == "marginal"
    got = pq.read_table(out)
    np.testing.assert_array_equal(
        got.column("anomaly_score").to_numpy(),
        scoring.anomaly_scores(artifact, mixed_table, kind="marginal"))
    assert got.drop(["anomaly_score"]).equals(pq.read_table(data))
    code, _, err = run(capsys, "score", data, tmp_path / "o2.parquet", "--model-dir",
                       mixed_artifact, "--kind", "marginal", "--latent")
    assert code == 2 and "`--kind` marginal scores rows without their label, and latent " \
                         "means need it" in err
    # without --kind marginal the missing label is the error it was, saying what scores it
    code, _, err = run(capsys, "score", data, tmp_path / "o3.parquet", "--model-dir",
                       mixed_artifact)
    assert code == 2 and "label column 'label' not found" in err
    assert err.rstrip().endswith("(to score rows without a label: --kind marginal)")
    code, _, err = run(capsys, "encode", data, tmp_path / "o3.parquet", "--model-dir",
                       mixed_artifact)
    assert code == 2 and "label column 'label' not found" in err and "--kind" not in err


def test_label_scores_are_the_class_posterior(capsys, tmp_path, artifact, mixed_table,
                                              mixed_artifact):
    """kind="label": -log p(y | x), the softmax over classes of log p(c) - (-log p(x | c));
    the class posterior sums to 1 over the classes; a null label is NaN, an unseen
    category (unseen="inf") too; the CLI writes the same."""
    table = mixed_table.slice(0, 40)
    enc = artifact.encoding
    classes = list(enc.classes)

    def as_class(c):
        return table.set_column(table.schema.get_field_index("label"), "label",
                                pa.array([c] * 40))

    per_class = np.stack([scoring.anomaly_scores(artifact, as_class(c), kind="label")
                          for c in classes], axis=1).astype(np.float64)
    np.testing.assert_allclose(np.exp(-per_class).sum(axis=1), 1.0, rtol=1e-4)
    # the whole posterior at once, the label column not read
    posterior = scoring.class_posterior(artifact, table.drop(["label"]))
    assert posterior.shape == (40, len(classes))
    np.testing.assert_allclose(posterior, np.exp(-per_class), rtol=1e-4, atol=1e-6)
    got = scoring.anomaly_scores(artifact, table, kind="label")
    idx = [classes.index(v) for v in table.column("label").to_pylist()]
    np.testing.assert_allclose(got, per_class[np.arange(40), idx], rtol=1e-5, atol=1e-5)
    # conditional - log p(y) - marginal, as the definition says
    counts = np.array([enc.class_counts[c] for c in classes], np.float64)
    want = (scoring.anomaly_scores(artifact, table).astype(np.float64)
            - np.log(counts / counts.sum())[idx]
            - scoring.anomaly_scores(artifact, table, kind="marginal"))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)
    labels = table.column("label").to_pylist()
    labels[3] = None
    nulls = table.set_column(table.schema.get_field_index("label"), "label", pa.array(labels))
    scored = scoring.anomaly_scores(artifact, nulls, kind="label")
    assert np.isnan(scored[3]) and np.isfinite(np.delete(scored, 3)).all()
    cats = table.column("s").to_pylist()
    cats[5] = "never-seen"
    unseen = table.set_column(table.schema.get_field_index("s"), "s", pa.array(cats))
    scored = scoring.anomaly_scores(artifact, unseen, kind="label", unseen="inf")
    assert np.isnan(scored[5]) and np.isfinite(np.delete(scored, 5)).all()
    code, stdout, out = _score_label_cli(capsys, tmp_path, table, mixed_artifact, "--latent")
    assert code == 0 and json.loads(stdout)["kind"] == "label"
    np.testing.assert_array_equal(out.column("anomaly_score").to_numpy(), got)


def test_balance_with_a_model_writes_a_variable_length_image_column_as_it_came(
        capsys, tmp_path, mixed_table, mixed_artifact):
    """`balance --model-dir` refused a list<uint8> image column holding the model's 64 values
    a row ("does not match the schema ... was trained on"): the output now keeps the input's
    schema exactly, its real rows unchanged and its synthetic images the fixed-size input's
    as list<uint8>; a row of another length is an error naming the column and the row."""
    fixed, var, ragged = (tmp_path / f"{n}.parquet" for n in ("fixed", "var", "ragged"))
    pq.write_table(mixed_table, fixed)
    pq.write_table(_variable_length_images(mixed_table), var)
    pq.write_table(_variable_length_images(mixed_table, short=(3, 200)), ragged)
    outs = {}
    for name, src in (("fixed", fixed), ("var", var)):
        outs[name] = tmp_path / f"b_{name}.parquet"
        code, _, err = run(capsys, "balance", src, outs[name], "--label", "label", "--model-dir",
                           mixed_artifact, "--seed", "3", "--quiet")
        assert code == 0, err
    got, want = pq.read_table(outs["var"]), pq.read_table(outs["fixed"])
    assert got.schema.equals(pq.read_schema(var).append(
        pa.field("is_synthetic", pa.bool_(), False)), check_metadata=True)
    n = mixed_table.num_rows
    assert got.slice(0, n).drop(["is_synthetic"]).equals(pq.read_table(var))
    assert got.num_rows == want.num_rows > n
    syn = got.slice(n)
    assert syn.column("img").cast(want.schema.field("img").type).equals(
        want.slice(n).column("img"))
    assert syn.drop(["img"]).equals(want.slice(n).drop(["img"]))
    code, _, err = run(capsys, "balance", ragged, tmp_path / "r.parquet", "--label", "label",
                       "--model-dir", mixed_artifact, "--quiet")
    assert code == 2 and err.strip().splitlines() == [
        "vae-augment: error: column 'img' has lists of another length than the model's 64 "
        "values (2 rows; the first is row 3)"]
    assert not (tmp_path / "r.parquet").exists()


def test_a_variable_length_image_column_is_taken_as_the_privacy_reference(
        capsys, tmp_path, mixed_table, mixed_artifact):
    """`sample --reference` (and `balance --privacy-min-distance`) refused a list<uint8>
    reference image column: it now filters as the fixed-size one does, and a row of another
    length is an error naming the column and the row."""
    fixed, var, ragged = (tmp_path / f"{n}.parquet" for n in ("fixed", "var", "ragged"))
    pq.write_table(mixed_table, fixed)
    pq.write_table(_variable_length_images(mixed_table), var)
    pq.write_table(_variable_length_images(mixed_table, short=(7,)), ragged)
    for name, ref in (("fixed", fixed), ("var", var)):
        code, _, err = run(capsys, "sample", tmp_path / f"s_{name}.parquet", "--model-dir",
                           mixed_artifact, "--n", "40", "--privacy-min-distance", "0.5",
                           "--reference", ref, "--quiet")
        assert code == 0, err
    assert pq.read_table(tmp_path / "s_var.parquet").equals(
        pq.read_table(tmp_path / "s_fixed.parquet"))
    code, _, err = run(capsys, "sample", tmp_path / "s_r.parquet", "--model-dir",
                       mixed_artifact, "--n", "40", "--privacy-min-distance", "0.5",
                       "--reference", ragged, "--quiet")
    assert code == 2 and err.strip().splitlines() == [
        "vae-augment: error: column 'img' has lists of another length than the model's 64 "
        "values (1 row; the first is row 7)"]
    code, _, err = run(capsys, "balance", var, tmp_path / "b.parquet", "--label", "label",
                       "--model-dir", mixed_artifact, "--privacy-min-distance", "0", "--quiet")
    assert code == 0, err
    assert pq.read_schema(tmp_path / "b.parquet").field("img").type == pa.list_(pa.uint8())


@pytest.fixture(scope="module")
def tensor_extension_model(mixed_table):
    """(the mixed table with its image as an arrow.fixed_shape_tensor, a tiny model fitted
    on it)."""
    from tests.conftest import FAST
    from vae_augment.api import fit

    i = mixed_table.schema.get_field_index("img")
    ext = pa.ExtensionArray.from_storage(pa.fixed_shape_tensor(pa.uint8(), [8, 8]),
                                         mixed_table.column("img").combine_chunks())
    table = mixed_table.set_column(i, "img", ext)
    return table, fit(table, label="label", seed=0, **FAST)


@pytest.mark.parametrize("typ", [pa.list_(pa.uint8()), pa.large_list(pa.uint8())])
def test_balance_with_a_tensor_extension_model_writes_list_images_as_they_came(
        tmp_path, mixed_table, tensor_extension_model, typ):
    """A model fitted on an arrow.fixed_shape_tensor image balances a (large) list<uint8>
    input of its 64 values a row: the synthetic images are written in the input's type."""
    from vae_augment.api import balance

    _, art = tensor_extension_model
    src = tmp_path / "var.parquet"
    pq.write_table(mixed_table.set_column(mixed_table.schema.get_field_index("img"),
                                          pa.field("img", typ),
                                          pa.array(mixed_table.column("img").to_pylist(), typ)),
                   src)
    out = balance(str(src), label="label", model=art, seed=0)["table"]
    assert out.schema.field("img").type == pq.read_schema(src).field("img").type
    syn = out.slice(mixed_table.num_rows).column("img")
    assert len(syn) > 0 and set(pc.list_value_length(syn).to_pylist()) == {64}


def test_a_tensor_extension_column_is_taken_by_the_scoring_schema_check(
        tmp_path, capsys, tensor_extension_model):
    """`Encoding.type_problem` unwrapped only Python-defined extension types, so an
    arrow.fixed_shape_tensor column (the model's own training type) was refused whole by
    `score --dead-letter`, the Beam scoring transforms and `pipelines.score`."""
    table, art = tensor_extension_model
    assert art.encoding.type_problem(table.schema) is None
    model_dir, src = tmp_path / "m", tmp_path / "ext.parquet"
    from vae_augment.artifact import save_artifact

    save_artifact(str(model_dir), art.model, art.encoding)
    pq.write_table(table, src)
    code, _, err = run(capsys, "score", src, tmp_path / "o.parquet", "--model-dir", model_dir,
                       "--dead-letter", tmp_path / "bad.jsonl")
    assert code == 0, err
    assert pq.read_table(tmp_path / "o.parquet").num_rows == table.num_rows


def test_label_scores_can_name_the_class_each_row_looks_like(capsys, tmp_path, artifact,
                                                             mixed_table, mixed_artifact):
    """`score --kind label --looks-like` (`score_file`/`score_table`'s
    ``looks_like_column``, `ScoreAnomalies`): the class each row most resembles, the argmax
    of its class posterior, beside -log p(y | x) from the same model passes, in the label's
    type; null for an unseen category's row (unseen="inf"), set for a null label's (the
    posterior does not read the label). Only with label scores."""
    from vae_augment.beam import ScoreAnomalies
    from vae_augment.beam.rows import score_table
    from vae_augment.errors import VAEAugmentError

    table = mixed_table.slice(0, 40)
    classes = np.asarray(artifact.encoding.classes)
    want = classes[scoring.class_posterior(artifact, table).argmax(axis=1)]
    score, best = scoring.label_scores(artifact, table)
    np.testing.assert_array_equal(score, scoring.anomaly_scores(artifact, table, kind="label"))
    np.testing.assert_array_equal(classes[best], want)
    labels = table.column("label").to_pylist()
    labels[3] = None
    cats = table.column("s").to_pylist()
    cats[5] = "never-seen"
    odd = table.set_column(table.schema.get_field_index("label"), "label", pa.array(labels))
    odd = odd.set_column(odd.schema.get_field_index("s"), "s", pa.array(cats))
    score, best = scoring.label_scores(artifact, odd, unseen="inf")
    assert np.isnan(score[[3, 5]]).all() and best[5] == -1 and classes[best[3]] == want[3]
    out = score_table(artifact, table, score_column="s2", looks_like_column="ll", kind="label")
    assert out.schema.field("ll").type == pa.string()
    assert out.column("ll").to_pylist() == want.tolist()
    with pytest.raises(VAEAugmentError, match=r"`looks_like_column` names the class each row "
                                              r"most resembles, from the class posterior that "
                                              r"kind='label' scores compute; got "
                                              r"kind='conditional'"):
        score_table(artifact, table, score_column="s2", looks_like_column="ll")
    beam_schema = ScoreAnomalies(str(mixed_artifact), kind="label",
                                 looks_like_column="ll").output_schema()
    assert beam_schema.field("ll").type == pa.string()
    code, stdout, written = _score_label_cli(capsys, tmp_path, table, mixed_artifact,
                                             "--looks-like")
    assert code == 0 and json.loads(stdout)["looks_like_column"] == "looks_like"
    data = tmp_path / "t.parquet"
    assert written.column("looks_like").to_pylist() == want.tolist()
    code, _, err = run(capsys, "score", data, tmp_path / "o2.parquet", "--model-dir",
                       mixed_artifact, "--looks-like")
    assert code == 2 and "--looks-like names the class" in err and "--kind conditional" in err


def test_the_looks_like_column_takes_the_input_labels_type(capsys, tmp_path, artifact,
                                                           mixed_table, mixed_artifact):
    """The looks-like column sits beside the input's label, so it takes that column's type
    (a dictionary's value type), here a large_string label scored by a model trained on
    string: it was the model's string (int64 for an int32 label), in `score_table`, the
    CLI and `ScoreAnomalies.output_schema` alike."""
    from vae_augment.beam import ScoreAnomalies
    from vae_augment.beam.rows import looks_like_type, score_table

    table = mixed_table.slice(0, 40)
    want = np.asarray(artifact.encoding.classes)[
        scoring.class_posterior(artifact, table).argmax(axis=1)].tolist()
    for i, (type_, own) in enumerate((
            (pa.large_string(), pa.large_string()),
            (pa.dictionary(pa.int8(), pa.large_string()), pa.large_string()),
            (pa.dictionary(pa.int32(), pa.string()), pa.string()))):
        wide = table.set_column(table.schema.get_field_index("label"), "label",
                                table.column("label").cast(type_))
        assert looks_like_type(artifact.encoding, wide.schema) == own
        out = score_table(artifact, wide, score_column="s2", looks_like_column="ll",
                          kind="label")
        assert out.schema.field("ll").type == own and out.column("ll").to_pylist() == want
        assert ScoreAnomalies(str(mixed_artifact), kind="label", looks_like_column="ll"
                              ).output_schema(wide.schema).field("ll").type == own
        (tmp_path / str(i)).mkdir()
        code, _, written = _score_label_cli(capsys, tmp_path / str(i), wide, mixed_artifact,
                                            "--looks-like")
        label = written.schema.field("label").type  # as Parquet gave it back
        assert code == 0 and written.schema.field("looks_like").type == (
            label.value_type if pa.types.is_dictionary(label) else label)
        if i == 0:  # Parquet keeps a plain large_string label as it is
            assert label == written.schema.field("looks_like").type == pa.large_string()
        assert written.column("looks_like").to_pylist() == want
    # an integer model's classes that a narrower input type cannot hold: the model's type
    from types import SimpleNamespace

    enc = SimpleNamespace(label="y", classes=[0, 300],
                          schema=pa.schema([pa.field("y", pa.int64())]))
    assert looks_like_type(enc, pa.schema([pa.field("y", pa.int8())])) == pa.int64()
    assert looks_like_type(enc, pa.schema([pa.field("y", pa.int16())])) == pa.int16()
    assert looks_like_type(enc, pa.schema([pa.field("x", pa.int16())])) == pa.int64()
    assert looks_like_type(enc, None) == pa.int64()


@pytest.mark.parametrize("shape", [[8, 8], [64], [8, 8, 1]])
def test_an_image_column_declaring_the_models_shape_or_none_is_scored(mixed_table, artifact,
                                                                      shape):
    """The model's 8x8 image as an arrow.fixed_shape_tensor of its shape, of a flat 64 or
    with a channel axis of one: the same values in the same order, scored alike."""
    i = mixed_table.schema.get_field_index("img")
    ext = pa.ExtensionArray.from_storage(pa.fixed_shape_tensor(pa.uint8(), shape),
                                         mixed_table.column("img").combine_chunks())
    table = mixed_table.set_column(i, "img", ext).slice(0, 30)
    assert artifact.encoding.type_problem(table.schema) is None
    np.testing.assert_allclose(scoring.anomaly_scores(artifact, table),
                               scoring.anomaly_scores(artifact, mixed_table.slice(0, 30)),
                               rtol=1e-5)


def test_an_image_column_declaring_another_shape_is_an_error(capsys, tmp_path, mixed_table,
                                                             mixed_artifact, artifact):
    """An image of the model's 64 values declared 4x16 (an arrow.fixed_shape_tensor, or its
    own `image_shape` metadata) where the model's is 8x8 was scored and encoded as if 8x8
    (`balance`, `evaluate` and `sample --reference` refused it): now one line naming both
    shapes, exit code 2, nothing written, with or without a dead-letter file."""
    i = mixed_table.schema.get_field_index("img")
    storage = mixed_table.column("img").combine_chunks()
    ext = mixed_table.set_column(i, "img", pa.ExtensionArray.from_storage(
        pa.fixed_shape_tensor(pa.uint8(), [4, 16]), storage))
    meta = mixed_table.set_column(i, pa.field("img", storage.type,
                                              metadata={"image_shape": "4,16"}), storage)
    for table in (ext, meta):
        message = (r"column 'img' holds tensors of shape \[4, 16\] \(its .*\); the model's "
                   r"are \[8, 8\]")
        assert re.search(message, artifact.encoding.type_problem(table.schema))
        with pytest.raises(SchemaError, match=message):
            scoring.encode_latent(artifact, table)
        src = tmp_path / "wide.parquet"
        pq.write_table(table, src)
        for argv in (["score", src, tmp_path / "o.parquet"], ["encode", src, tmp_path / "o.parquet"],
                     ["score", src, tmp_path / "o.parquet", "--dead-letter", tmp_path / "d.jsonl"]):
            code, _, err = run(capsys, *argv, "--model-dir", mixed_artifact)
            assert code == 2 and re.search(message, err) and "Traceback" not in err, err
            assert len(err.strip().splitlines()) == 1, err
            assert not (tmp_path / "o.parquet").exists() and not (tmp_path / "d.jsonl").exists()


def test_an_image_tensor_of_another_size_is_named_by_its_own_type(mixed_table, artifact):
    """A 7x7 arrow.fixed_shape_tensor for the model's 8x8 image: the error named its
    storage, `fixed_size_list<item: uint8>[49]`, a type the input does not hold."""
    img = np.stack(mixed_table.column("img").to_numpy(zero_copy_only=False))
    small = pa.FixedSizeListArray.from_arrays(pa.array(img[:, :49].reshape(-1)), 49)
    table = mixed_table.set_column(mixed_table.schema.get_field_index("img"), "img",
                                   pa.ExtensionArray.from_storage(
                                       pa.fixed_shape_tensor(pa.uint8(), [7, 7]), small))
    with pytest.raises(SchemaError, match=r"column 'img' has type extension<arrow\."
                                          r"fixed_shape_tensor\[value_type=uint8, "
                                          r"shape=\[7,7\]\]>, expected a list of 64 numbers"):
        scoring.anomaly_scores(artifact, table)
