"""The lecture, reproduced: published costs and accuracies, and the course's own script.

Published numbers (DESIGN.md and the course notes in shared/seeds): the cost printed at every
1000th iteration and the train/test accuracies. The ×10 "random" run passes through a regime
where tiny floating-point differences grow (a 1e-15 relative nudge to its initial weights moves
its cost at iteration 1000 by ~3e-5), so its published digits depend on the BLAS that printed
them: we match the course's script run here to 1e-9, and the published curve to 2% (its end
point to 5e-4).
"""

from __future__ import annotations

import numpy as np
import pytest

import course_reference as course
from initlab.activations import make_activation
from initlab.config import CirclesDataset, HeInit, RandomInit, ReluActivation, ZerosInit
from initlab.datasets import load_dataset
from initlab.initializers import init_layers
from initlab.network import accuracy
from initlab.seeding import course_rng
from initlab.trainer import fit

PUBLISHED_COSTS = {
    "zeros": [0.6931471805599453] * 15,
    "random": [
        float("inf"),
        0.6244405061689552,
        0.5979643914272642,
        0.5637254162165872,
        0.5501640269883202,
        0.5444721253481484,
        0.5374632031142033,
        0.4777312272455887,
        0.39784053333340974,
        0.3934906959402653,
        0.3920338616006118,
        0.38928474137191077,
        0.3861583623847435,
        0.38498646217082794,
        0.38279729866923734,
    ],
    "he": [
        0.8830537463419761,
        0.6879825919728063,
        0.6751286264523371,
        0.6526117768893807,
        0.6082958970572937,
        0.5304944491717495,
        0.41386458170717944,
        0.31178034648444414,
        0.23696215330322556,
        0.18597287209206836,
        0.1501555628037181,
        0.12325079292273546,
        0.09917746546525932,
        0.08457055954024277,
        0.07357895962677365,
    ],
}
PUBLISHED_ACCURACY = {"zeros": (0.5, 0.5), "random": (0.83, 0.86), "he": (0.9933333333333333, 0.96)}
SCHEMES = {"zeros": ZerosInit(), "random": RandomInit(), "he": HeInit()}


@pytest.fixture(scope="module")
def data():
    return load_dataset(CirclesDataset())


@pytest.fixture(scope="module")
def reference():
    """The course's script, run here; NumPy's global random state restored afterwards."""
    saved = np.random.get_state()
    try:
        X, Y, Xt, Yt = course.load_dataset()
        runs = {}
        for name in SCHEMES:
            params, costs = course.model(X, Y, name)
            runs[name] = (
                costs,
                course.predict_accuracy(X, Y, params),
                course.predict_accuracy(Xt, Yt, params),
                params,
            )
        return (X, Y, Xt, Yt), runs
    finally:
        np.random.set_state(saved)


@pytest.fixture(scope="module")
def ours(data):
    act = make_activation(ReluActivation())
    runs = {}
    for name, scheme in SCHEMES.items():
        params = init_layers(scheme, [2, 10, 5, 1], course_rng(3))
        params, history = fit(
            params, data.X_train, data.Y_train, act, lr=0.01, iterations=15000, log_every=1000,
            engine="numpy",
        )  # fmt: skip
        runs[name] = (
            history.costs[0],
            float(accuracy(params, data.X_train, data.Y_train, act)[0]),
            float(accuracy(params, data.X_test, data.Y_test, act)[0]),
            params,
        )
    return runs


def test_dataset_is_the_courses(data, reference):
    (X, Y, Xt, Yt), _ = reference
    for ours_, theirs in (
        (data.X_train, X),
        (data.Y_train, Y),
        (data.X_test, Xt),
        (data.Y_test, Yt),
    ):
        np.testing.assert_array_equal(ours_, theirs)
    assert data.X_train.shape == (2, 300) and data.X_test.shape == (2, 100)


@pytest.mark.parametrize("name", ["zeros", "random", "he"])
def test_initial_weights_are_the_courses(name):
    saved = np.random.get_state()
    try:
        theirs = course.initialize_parameters([2, 10, 5, 1], name)
    finally:
        np.random.set_state(saved)
    ours_ = init_layers(SCHEMES[name], [2, 10, 5, 1], course_rng(3))
    for layer in range(3):
        np.testing.assert_array_equal(ours_.weights[layer][0], theirs[f"W{layer + 1}"])
        np.testing.assert_array_equal(ours_.biases[layer][0], theirs[f"b{layer + 1}"])


@pytest.mark.parametrize("name", ["zeros", "he"])
def test_published_costs_every_1000_iterations(ours, name):
    costs = ours[name][0]
    assert len(costs) == 15
    np.testing.assert_allclose(costs, PUBLISHED_COSTS[name], rtol=1e-9, atol=0)


def test_random_matches_the_course_script_run_here(ours, reference):
    _, runs = reference
    theirs = np.array(runs["random"][0])
    finite = np.isfinite(theirs)
    assert not finite[0]  # the course prints inf at iteration 0 (log of an exact 0)
    # The cost is computed stably from the logits, the course's as log(a3): the same number
    # up to its last bit or two (measured ≤ 3e-16), while training is bit for bit (below).
    np.testing.assert_allclose(ours["random"][0][finite], theirs[finite], rtol=1e-15, atol=0)
    assert (
        np.isfinite(ours["random"][0][0]) and ours["random"][0][0] > 100
    )  # stable loss: finite, huge


def test_random_follows_the_published_curve(ours):
    """Same shape and end point; the steep drop near iteration 7000 is where chaos shows most."""
    published = np.array(PUBLISHED_COSTS["random"])
    finite = np.isfinite(published)
    np.testing.assert_allclose(ours["random"][0][finite], published[finite], rtol=2e-2, atol=0)
    assert ours["random"][0][-1] == pytest.approx(published[-1], rel=5e-4)


@pytest.mark.parametrize("name", ["zeros", "random", "he"])
def test_published_accuracies(ours, reference, name):
    _, runs = reference
    assert ours[name][1:3] == pytest.approx(PUBLISHED_ACCURACY[name], abs=1e-12)
    assert ours[name][1:3] == runs[name][1:3]


@pytest.mark.parametrize("name", ["zeros", "random", "he"])
def test_trained_parameters_are_the_course_scripts_bit_for_bit(ours, reference, name):
    """README: the NumPy engine's course runs "match the course's own script bit for bit":
    every weight and bias after 15000 iterations, the chaotic ×10 run included; the costs
    (a different, stable formula) to their last bit or two."""
    _, runs = reference
    params, theirs = ours[name][3], runs[name][3]
    for layer in range(3):
        np.testing.assert_array_equal(params.weights[layer][0], theirs[f"W{layer + 1}"])
        np.testing.assert_array_equal(params.biases[layer][0], theirs[f"b{layer + 1}"])
    costs, course_costs = ours[name][0], np.array(runs[name][0])
    finite = np.isfinite(course_costs)
    np.testing.assert_allclose(costs[finite], course_costs[finite], rtol=1e-15, atol=0)


@pytest.mark.parametrize(
    "n,noise,factor,seed", [(300, 0.05, 0.8, 1), (101, 0.2, 0.3, 7), (2, 0.0, 0.5, 0)]
)
def test_circles_are_sklearns_bit_for_bit(n, noise, factor, seed):
    from sklearn.datasets import make_circles as sklearn_circles

    from initlab.datasets import make_circles

    ours = make_circles(n, noise, factor, course_rng(seed))
    theirs = sklearn_circles(n_samples=n, noise=noise, factor=factor, random_state=course_rng(seed))
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])


@pytest.mark.parametrize("name", ["zeros", "random", "he"])
def test_the_defaults_reproduce_the_lecture(compose_cfg, name):
    """What `python src/train.py init=<name>` trains, with the default (fastest) engine."""
    from initlab.config import to_settings
    from initlab.experiment import train_and_evaluate

    result = train_and_evaluate(to_settings(compose_cfg(f"init={name}", "diagnostics=false")))
    costs = result.history.costs[0][::10]  # every 1000th iteration (log_every is 100)
    published = np.array(PUBLISHED_COSTS[name])
    finite = np.isfinite(published)
    rtol = 2e-2 if name == "random" else 1e-9  # the ×10 run is chaotic: see the module doc
    np.testing.assert_allclose(costs[finite], published[finite], rtol=rtol, atol=0)
    accuracies = (float(result.train_accuracy[0]), float(result.test_accuracy[0]))
    assert accuracies == pytest.approx(PUBLISHED_ACCURACY[name], abs=1e-12)
