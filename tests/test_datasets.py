"""Datasets: every option's shapes and labels, seeds, references, standardize, CSV errors."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from initlab.config import (
    GROUP_OPTIONS,
    CirclesDataset,
    ConfigError,
    CsvDataset,
    GaussianDataset,
    GeneratedDataset,
    MoonsDataset,
    resolve_data_path,
    to_settings,
)
from initlab.datasets import DatasetError, clear_cache, load_dataset, standardize

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = GROUP_OPTIONS["dataset"]
GENERATED = [name for name, cfg in OPTIONS.items() if isinstance(cfg, GeneratedDataset)]


@pytest.fixture(autouse=True)
def _fresh_cache():
    clear_cache()
    yield
    clear_cache()


def _fresh(cfg):
    """Load without the memo, to compare two independent computations."""
    clear_cache()
    return load_dataset(cfg)


# --- every option ------------------------------------------------------------------------


@pytest.mark.parametrize("option", list(OPTIONS))
def test_every_option_loads_in_the_course_layout(option):
    cfg = OPTIONS[option]
    data = load_dataset(cfg)
    assert data.name == cfg.name
    m_train, m_test = data.X_train.shape[1], data.X_test.shape[1]
    if isinstance(cfg, GeneratedDataset):
        assert (m_train, m_test) == (cfg.n_train, cfg.n_test)
    assert data.X_train.shape == (data.n_features, m_train)
    assert data.X_test.shape == (data.n_features, m_test)
    assert data.Y_train.shape == (1, m_train) and data.Y_test.shape == (1, m_test)
    assert len(data.feature_names) == data.n_features == 2
    assert len(data.classes) == 2
    for X, Y in ((data.X_train, data.Y_train), (data.X_test, data.Y_test)):
        assert X.dtype == np.float64 and np.isfinite(X).all()
        assert set(np.unique(Y).tolist()) == {0, 1}  # 0/1 labels, both classes present


@pytest.mark.parametrize("option", GENERATED)
def test_generated_sets_are_determined_by_their_seeds(option):
    cfg = OPTIONS[option]
    first, again = _fresh(cfg), _fresh(cfg)
    np.testing.assert_array_equal(first.X_train, again.X_train)
    np.testing.assert_array_equal(first.Y_train, again.Y_train)
    np.testing.assert_array_equal(first.X_test, again.X_test)
    other = _fresh(dataclasses.replace(cfg, train_seed=11, test_seed=12))
    assert not np.array_equal(first.X_train, other.X_train)
    assert not np.array_equal(first.X_test, other.X_test)


@pytest.mark.parametrize("option", GENERATED)
def test_train_and_test_are_independent_draws(option):
    data = load_dataset(dataclasses.replace(OPTIONS[option], n_test=OPTIONS[option].n_train))
    assert data.X_train.shape == data.X_test.shape
    assert not np.isin(data.X_train, data.X_test).any()


@pytest.mark.parametrize("option", GENERATED)
def test_no_global_random_state_is_used_or_changed(option):
    np.random.seed(1234)
    before = np.random.get_state()[1].copy()
    data = _fresh(OPTIONS[option])
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    np.random.seed(99)  # another global state, same data
    np.testing.assert_array_equal(_fresh(OPTIONS[option]).X_train, data.X_train)


def test_same_seed_for_train_and_test_is_refused():
    with pytest.raises(ConfigError, match=r"^dataset\.test_seed must be different"):
        MoonsDataset(train_seed=5, test_seed=5)


# --- references --------------------------------------------------------------------------


def test_circles_are_the_course_data_bit_for_bit():
    """np.random.seed(1) / seed(2) then sklearn's make_circles, as the course does."""
    from sklearn.datasets import make_circles

    data = load_dataset(CirclesDataset())
    for seed, n, X, Y in ((1, 300, data.X_train, data.Y_train), (2, 100, data.X_test, data.Y_test)):
        X_ref, y_ref = make_circles(
            n_samples=n, noise=0.05, random_state=np.random.RandomState(seed)
        )
        np.testing.assert_array_equal(X, X_ref.T)
        np.testing.assert_array_equal(Y, y_ref.reshape(1, -1))
    assert not CirclesDataset().standardize and data.feature_mean is None


def test_moons_are_sklearns():
    from sklearn.datasets import make_moons

    cfg = MoonsDataset(n_train=123, n_test=45, noise=0.3, train_seed=7, test_seed=8)
    data = load_dataset(cfg)
    X_ref, y_ref = make_moons(n_samples=123, noise=0.3, random_state=7)
    np.testing.assert_array_equal(data.X_train, X_ref.T)
    np.testing.assert_array_equal(data.Y_train[0], y_ref)
    X_ref, y_ref = make_moons(n_samples=45, noise=0.3, random_state=8)
    np.testing.assert_array_equal(data.X_test, X_ref.T)
    np.testing.assert_array_equal(data.Y_test[0], y_ref)


def test_gaussian_is_sklearns_blobs_with_centres_separation_apart():
    from sklearn.datasets import make_blobs

    cfg = GaussianDataset(separation=4.0, cluster_std=0.7, train_seed=3, test_seed=4)
    data = load_dataset(cfg)
    c = 4.0 / (2 * np.sqrt(2))
    centres = [[-c, -c], [c, c]]
    assert np.linalg.norm(np.subtract(centres[1], centres[0])) == pytest.approx(4.0)
    X_ref, y_ref = make_blobs(n_samples=300, centers=centres, cluster_std=0.7, random_state=3)
    np.testing.assert_array_equal(data.X_train, X_ref.T)
    np.testing.assert_array_equal(data.Y_train[0], y_ref)
    # noise > 0 adds to the blobs: same labels, spread out points
    noisy = load_dataset(dataclasses.replace(cfg, noise=0.5))
    np.testing.assert_array_equal(noisy.Y_train, data.Y_train)
    assert noisy.X_train.std() > data.X_train.std()


def test_gaussian_is_linearly_separable_with_its_defaults():
    from sklearn.linear_model import LogisticRegression

    data = load_dataset(GaussianDataset())
    model = LogisticRegression().fit(data.X_train.T, data.Y_train[0])
    assert model.score(data.X_train.T, data.Y_train[0]) > 0.95
    assert model.score(data.X_test.T, data.Y_test[0]) > 0.95


def test_xor_and_spiral_follow_their_construction():
    clean = load_dataset(dataclasses.replace(OPTIONS["xor"], noise=0.0))
    x1, x2 = clean.X_train
    np.testing.assert_array_equal(clean.Y_train[0], (x1 * x2 < 0).astype(int))
    assert np.abs(clean.X_train).max() <= 1.0
    spiral = load_dataset(dataclasses.replace(OPTIONS["spiral"], noise=0.0))
    radius = np.hypot(*spiral.X_train)
    assert radius.max() <= 1.0
    # a point's angle is fixed by its radius, half a turn apart between the classes
    angle = np.arctan2(spiral.X_train[0], spiral.X_train[1])  # (r sin t, r cos t)
    expected = 2 * np.pi * 1.75 * radius + np.pi * spiral.Y_train[0]
    np.testing.assert_allclose(np.angle(np.exp(1j * (angle - expected))), 0, atol=1e-9)


# --- standardize -------------------------------------------------------------------------


@pytest.mark.parametrize("option", list(OPTIONS))
def test_standardize_uses_the_training_statistics_for_both_splits(option):
    raw = _fresh(dataclasses.replace(OPTIONS[option], standardize=False))
    data = _fresh(dataclasses.replace(OPTIONS[option], standardize=True))
    np.testing.assert_allclose(data.X_train.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(data.X_train.std(axis=1), 1, rtol=1e-12)
    mean = raw.X_train.mean(axis=1, keepdims=True)
    std = raw.X_train.std(axis=1, keepdims=True)
    np.testing.assert_allclose(data.X_test, (raw.X_test - mean) / std, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(data.feature_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(data.feature_std, std, rtol=1e-12)
    np.testing.assert_array_equal(data.Y_train, raw.Y_train)
    np.testing.assert_array_equal(data.Y_test, raw.Y_test)


def test_a_constant_feature_is_centred_not_divided_by_zero():
    X_train = np.array([[1.0, 2.0, 3.0], [0.1, 0.1, 0.1]])
    X_test = np.array([[2.0], [0.3]])
    train, test, mean, std = standardize(X_train, X_test)
    assert mean[1, 0] == 0.1
    np.testing.assert_array_equal(train[1], 0.0)
    assert test[1, 0] == pytest.approx(0.2)
    assert std[1, 0] == 1.0 and np.isfinite(train).all()


# --- memo --------------------------------------------------------------------------------


def test_loading_twice_returns_the_same_read_only_arrays():
    first, second = load_dataset(MoonsDataset()), load_dataset(MoonsDataset())
    assert first is second
    for a in (first.X_train, first.Y_train, first.X_test, first.Y_test):
        assert not a.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            a[0, 0] = 1
    assert load_dataset(MoonsDataset(noise=0.3)) is not first


def test_a_rewritten_csv_is_read_again(tmp_path):
    path = _write(
        tmp_path, "d.csv", "x,y,label\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(8))
    )
    cfg = CsvDataset(path=str(path), test_fraction=0.25)
    first = load_dataset(cfg)
    path.write_text("x,y,label\n" + "".join(f"{i},{-i},{i % 2}\n" for i in range(12)))
    os.utime(path, ns=(0, 10**18))  # a new mtime even on a coarse clock
    second = load_dataset(cfg)
    assert second is not first and second.X_train.shape == (2, 9)


# --- CSV ---------------------------------------------------------------------------------


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """x1,x2,noise,answer
0.5,1.5,9,yes
-1,2,9,no
2.5,-0.5,9,yes
3,4,9,no
"""


def test_a_good_file_round_trips_with_string_labels(tmp_path):
    path = _write(tmp_path, "good.csv", GOOD)
    test = _write(tmp_path, "test.csv", "answer,x1,x2,noise\nno,7,8,9\nyes,-7,-8,9\n")
    cfg = CsvDataset(path=str(path), label="answer", test_path=str(test), standardize=False)
    data = load_dataset(cfg)
    assert data.classes == ("no", "yes")  # sorted: "no" -> 0, "yes" -> 1
    assert data.feature_names == ("x1", "x2", "noise")  # every other column, file order
    np.testing.assert_array_equal(data.X_train, [[0.5, -1, 2.5, 3], [1.5, 2, -0.5, 4], [9] * 4])
    np.testing.assert_array_equal(data.Y_train, [[1, 0, 1, 0]])
    # the test file's columns are found by name, in any order
    np.testing.assert_array_equal(data.X_test, [[7, -7], [8, -8], [9, 9]])
    np.testing.assert_array_equal(data.Y_test, [[0, 1]])
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert data.files[0] == (str(path), digest) and data.files[1][0] == str(test)


def test_features_select_and_order_the_columns(tmp_path):
    path = _write(tmp_path, "good.csv", GOOD)
    cfg = CsvDataset(path=str(path), label="answer", features=["x2", "x1"], standardize=False)
    data = load_dataset(dataclasses.replace(cfg, test_fraction=0.25))
    assert data.feature_names == ("x2", "x1") and data.n_features == 2
    both = np.hstack([data.X_train, data.X_test])
    assert sorted(map(tuple, both.T)) == sorted([(1.5, 0.5), (2, -1), (-0.5, 2.5), (4, 3)])


def test_numeric_labels_sort_as_numbers(tmp_path):
    rows = "".join(f"{i},{10 if i % 2 else 9}\n" for i in range(6))
    path = _write(tmp_path, "num.csv", "x,label\n" + rows + "6,9.0\n")
    data = load_dataset(CsvDataset(path=str(path), test_fraction=0.2, standardize=False))
    assert data.classes == (9, 10)
    X = np.hstack([data.X_train, data.X_test])[0]
    Y = np.hstack([data.Y_train, data.Y_test])[0]
    np.testing.assert_array_equal(Y, (X % 2 == 1).astype(int))


def test_test_fraction_gives_the_split_sizes_and_split_seed_the_split(tmp_path):
    rows = "".join(f"{i},{i * i},{'ab'[i % 2]}\n" for i in range(40))
    path = _write(tmp_path, "split.csv", "a,b,label\n" + rows)
    cfg = CsvDataset(path=str(path), test_fraction=0.3, standardize=False)
    data = load_dataset(cfg)
    assert (data.X_train.shape[1], data.X_test.shape[1]) == (28, 12)  # ceil(0.3 * 40) = 12
    every = np.sort(np.hstack([data.X_train, data.X_test])[0])
    np.testing.assert_array_equal(every, np.arange(40))  # a partition of the rows
    again = _fresh(cfg)
    np.testing.assert_array_equal(again.X_test, data.X_test)
    other = _fresh(dataclasses.replace(cfg, split_seed=1))
    assert not np.array_equal(other.X_test, data.X_test)


def test_the_default_csv_is_the_shipped_iris_sample_under_the_project_root():
    cfg = CsvDataset()
    assert resolve_data_path(cfg.path) == ROOT / "data" / "iris_versicolor_virginica.csv"
    data = load_dataset(cfg)
    assert data.classes == ("versicolor", "virginica")
    assert (data.X_train.shape[1], data.X_test.shape[1]) == (75, 25)


# --- CSV errors --------------------------------------------------------------------------


def _error(tmp_path: Path, text: str, **kw) -> str:
    path = _write(tmp_path, kw.pop("name", "bad.csv"), text)
    cfg = CsvDataset(path=str(path), **{"test_fraction": 0.25, **kw})
    with pytest.raises(DatasetError) as info:
        load_dataset(cfg)
    message = str(info.value)
    assert str(path) in message
    return message


@pytest.mark.parametrize(
    "text,kw,expected",
    [
        # a missing label column: the column and the file's columns are named
        ("x1,x2,y\n1,2,a\n", {}, ["'label'", "dataset.label", "'x1', 'x2', 'y'"]),
        ("x1,x2,label\n1,2,a\n", {"features": ["x1", "x3"]}, ["'x3'", "'x1', 'x2', 'label'"]),
        # non-numeric features: column, row, line and the value
        ("x,label\n1,a\n2,b\nthree,a\n4,b\n", {}, ["'x'", "row 3 (line 4)", "'three'"]),
        ("x,label\n1,a\n,b\n3,a\n", {}, ["'x'", "row 2 (line 3)", "empty"]),
        ("x,label\n1,a\n2,b\nnan,a\n", {}, ["'x'", "row 3 (line 4)", "'nan'"]),
        ("x,label\n1,a\n2,b\n3,a\n-inf,b\n", {}, ["'x'", "row 4 (line 5)", "'-inf'"]),
        ("x,label\n1,a\n2,\n3,b\n", {}, ["'label'", "row 2 (line 3)", "empty"]),
        # not two classes: the values found
        ("x,label\n1,a\n2,b\n3,c\n4,a\n", {}, ["'label'", "found 3", "'a', 'b', 'c'"]),
        ("x,label\n1,a\n2,a\n3,a\n4,a\n", {}, ["'label'", "found 1", "'a'"]),
        ("x,label\n1,0\n2,1\n3,nan\n", {}, ["'label'", "row 3", "'nan'"]),
        # the file's shape
        ("", {}, ["empty"]),
        ("\n\n", {}, ["empty"]),
        ("x,label\n", {}, ["no data rows"]),
        ("x,label\n1,a\n2,b,3\n", {}, ["line 3", "3 fields"]),
        ("x,x,label\n1,2,a\n", {}, ["repeats", "x"]),
        ("label\na\nb\n", {}, ["no feature columns"]),
        ("x,label\n1,a\n2,b\n3,a\n", {"test_fraction": 0.5}, ["too few", "3 data row"]),
        # a split that leaves the training rows with one class
        ("x,label\n1,a\n2,a\n3,b\n", {"test_fraction": 0.3}, ["only the class", "split_seed"]),
    ],
)
def test_bad_files_raise_a_dataset_error_naming_the_problem(tmp_path, text, kw, expected):
    message = _error(tmp_path, text, **kw)
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_a_test_file_with_another_class_or_missing_column_is_refused(tmp_path):
    train = _write(tmp_path, "train.csv", "x,label\n1,a\n2,b\n")
    for name, text, expected in [
        ("t1.csv", "x,label\n1,a\n2,c\n", ["'label'", "row 2", "'c'", "['a', 'b']"]),
        ("t2.csv", "z,label\n1,a\n", ["'x'", "dataset.features", "'z', 'label'"]),
    ]:
        test = _write(tmp_path, name, text)
        with pytest.raises(DatasetError) as info:
            load_dataset(CsvDataset(path=str(train), test_path=str(test)))
        assert str(test) in str(info.value)
        for part in expected:
            assert part in str(info.value)


def test_a_file_gone_after_validation_is_a_dataset_error(tmp_path):
    path = _write(tmp_path, "gone.csv", GOOD)
    cfg = CsvDataset(path=str(path), label="answer")
    path.unlink()
    with pytest.raises(DatasetError, match=r"dataset\.path: no such file: .*gone\.csv"):
        load_dataset(cfg)


# --- composition -------------------------------------------------------------------------


@pytest.mark.parametrize("option", list(OPTIONS))
def test_every_option_composes_and_loads(compose_cfg, option):
    settings = to_settings(compose_cfg(f"dataset={option}"))
    assert settings.dataset == OPTIONS[option]
    assert load_dataset(settings.dataset).name == option


def test_csv_overrides_compose(compose_cfg, tmp_path):
    path = _write(tmp_path, "good.csv", GOOD)
    settings = to_settings(
        compose_cfg(
            "dataset=csv", f"dataset.path={path}", "dataset.label=answer",
            "dataset.features=[x1,x2]", "dataset.test_fraction=0.25",
        )
    )  # fmt: skip
    data = load_dataset(settings.dataset)
    assert data.feature_names == ("x1", "x2") and data.classes == ("no", "yes")


@pytest.mark.parametrize(
    "overrides,key",
    [
        (["dataset=moons", "dataset.noise=-1"], "dataset.noise"),
        (["dataset=xor", "dataset.noise=-1"], "dataset.noise"),
        (["dataset=spiral", "dataset.noise=-1"], "dataset.noise"),
        (["dataset=gaussian", "dataset.noise=-1"], "dataset.noise"),
        (["dataset=moons", "dataset.n_test=1"], "dataset.n_test"),
        (["dataset=xor", "dataset.train_seed=-1"], "dataset.train_seed"),
        (["dataset=xor", "dataset.test_seed=1"], "dataset.test_seed"),
        (["dataset=gaussian", "dataset.cluster_std=0"], "dataset.cluster_std"),
        (["dataset=gaussian", "dataset.separation=-1"], "dataset.separation"),
        (["dataset=spiral", "dataset.turns=0"], "dataset.turns"),
        (["dataset=circles", "dataset.factor=1"], "dataset.factor"),
        (["dataset=csv", "dataset.test_fraction=1"], "dataset.test_fraction"),
        (["dataset=csv", "dataset.test_fraction=0"], "dataset.test_fraction"),
        (["dataset=csv", "dataset.split_seed=-1"], "dataset.split_seed"),
        (["dataset=csv", "dataset.label=' '"], "dataset.label"),
        (["dataset=csv", "dataset.features=[label]"], "dataset.features"),
        (["dataset=csv", "dataset.features=[a,a]"], "dataset.features"),
    ],
)
def test_out_of_range_values_fail_at_validation(compose_cfg, overrides, key):
    with pytest.raises(ConfigError, match=rf"^{key} must be"):
        to_settings(compose_cfg(*overrides))


def test_noise_message_names_the_key_and_value(compose_cfg):
    with pytest.raises(ConfigError, match=r"^dataset\.noise must be >= 0 \(got -1\.0\)$"):
        to_settings(compose_cfg("dataset=moons", "dataset.noise=-1"))


@pytest.mark.parametrize("key", ["path", "test_path"])
def test_a_missing_file_fails_at_validation_with_its_resolved_path(compose_cfg, key):
    with pytest.raises(ConfigError, match=rf"^dataset\.{key} must be") as info:
        to_settings(compose_cfg("dataset=csv", f"dataset.{key}=no/such/file.csv"))
    assert str(ROOT / "no" / "such" / "file.csv") in str(info.value)
    assert not isinstance(info.value, DatasetError)
    with pytest.raises(ConfigError, match=rf"dataset\.{key}.*/abs/missing\.csv"):
        to_settings(compose_cfg("dataset=csv", f"dataset.{key}=/abs/missing.csv"))


def test_gaussian_blobs_in_any_dimension():
    from initlab.config import GaussianDataset

    data = load_dataset(GaussianDataset(n_features=5, separation=4.0, cluster_std=0.1))
    assert data.X_train.shape == (5, 300)
    centres = [data.X_train[:, data.Y_train[0] == k].mean(axis=1) for k in (0, 1)]
    assert np.linalg.norm(centres[1] - centres[0]) == pytest.approx(4.0, rel=0.02)
    np.testing.assert_allclose(centres[1], centres[1].mean(), atol=0.05)  # on the diagonal
