"""Figures that follow the data: the boundary's window and plane, the theory figures' edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from initlab import plots
from initlab.plots import Plane, decision_grid


def _render(figure) -> bytes:
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, **plots.SAVE_KWARGS)
    return buffer.getvalue()


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
def test_the_boundary_window_follows_the_datas_range(scale):
    points = np.random.default_rng(0).uniform(-1, 1, (2, 200)) * scale + 5 * scale
    xx, yy = decision_grid(points)
    span = np.ptp(points, axis=1).max()
    assert xx.min() < points[0].min() and xx.max() > points[0].max()
    assert yy.min() < points[1].min() and yy.max() > points[1].max()
    assert xx.max() - xx.min() < 3 * span  # padded, not a fixed ±1 around it
    assert xx.size < 250_000  # ~GRID_POINTS² whatever the scale


def test_the_course_window_is_the_courses_padding():
    """On circles (span ~2.2) the pad is ~1, as the course's step-0.01 grid padded by 1."""
    from initlab.config import CirclesDataset
    from initlab.datasets import load_dataset

    X = load_dataset(CirclesDataset()).X_train
    xx, _ = decision_grid(X)
    assert xx.min() == pytest.approx(X[0].min() - 1.0, abs=0.05)
    assert 150_000 < xx.size < 200_000


def test_planes_for_one_two_and_many_features():
    X2 = np.random.default_rng(1).standard_normal((2, 50))
    plane = Plane.of(X2, ("petal", "sepal"))
    np.testing.assert_array_equal(plane.coords(X2), X2)
    assert plane.labels == ("petal", "sepal")
    X5 = np.random.default_rng(2).standard_normal((5, 400)) * np.array([[5], [3], [1], [1], [1]])
    plane = Plane.of(X5)
    assert np.allclose(plane.basis.T @ plane.basis, np.eye(2))  # orthonormal directions
    assert abs(plane.basis[0, 0]) > 0.99 and abs(plane.basis[1, 1]) > 0.99  # the two widest
    uv = np.array([[0.5], [-1.0]])
    np.testing.assert_allclose(plane.coords(plane.inputs(uv)), uv)  # a round trip in the plane
    plane = Plane.of(np.arange(10.0)[np.newaxis])
    assert plane.basis.shape == (1, 2) and plane.labels[1] == "(no second input)"


@pytest.mark.parametrize("features", [1, 2, 3])
def test_boundary_figures_draw_any_number_of_features(features):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((features, 60))
    Y = (X[0] > 0).astype(int)[np.newaxis]
    seen = []

    def probability(inputs: np.ndarray) -> np.ndarray:
        seen.append(inputs.shape)
        return 1 / (1 + np.exp(-5 * inputs[0]))

    data = plots.BoundaryData(X, Y, X, Y, class_names=("no", "yes"))
    png = _render(plots.decision_boundary_figure(probability, data, title="t"))
    assert png.startswith(b"\x89PNG")
    assert seen and seen[0][0] == features  # the network sees its own input dimension


@pytest.mark.parametrize(
    "probability,note",
    [
        (lambda X: np.full(X.shape[1], 0.5), "everywhere: no boundary"),
        (lambda X: np.where(X[0] > 0, np.nan, 0.2), "not a number"),
        (lambda X: 1 / (1 + np.exp(-X[0])), ""),
    ],
    ids=["constant", "diverged", "normal"],
)
def test_degenerate_boundaries_say_what_they_are(probability, note):
    """A network that predicts one probability everywhere (zeros init) or NaN (diverged)."""
    X = np.random.default_rng(4).standard_normal((2, 40))
    Y = (X[0] > 0).astype(int)[np.newaxis]
    fig = plots.decision_boundary_figure(probability, plots.BoundaryData(X, Y, X, Y))
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert any(note in t for t in texts) if note else not texts
    title = fig.axes[0].get_title()
    assert "train" in title and "test" in title and "%" in title
    assert _render(fig).startswith(b"\x89PNG")


def test_the_evolution_figure_has_a_panel_per_snapshot():
    X = np.random.default_rng(5).standard_normal((2, 40))
    Y = (X[0] > 0).astype(int)[np.newaxis]
    snapshots = [
        (i, lambda Z, k=k: 1 / (1 + np.exp(-k * Z[0]))) for k, i in enumerate((0, 10, 50, 100))
    ]
    fig = plots.boundary_evolution_figure(snapshots, plots.BoundaryData(X, Y), title="t")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert [t.split("\n")[0] for t in titles] == [
        "iteration 0",
        "iteration 10",
        "iteration 50",
        "iteration 100",
    ]
    assert _render(fig).startswith(b"\x89PNG")


def test_theory_figures_draw_degenerate_spectra():
    zeros = np.zeros((4, 10))
    point = {
        "sigma_w2": 0.0, "sigma_b2": 0.0, "q_star": 0.0, "chi1": 0.0, "phase": "ordered",
        "depth_scale": 0.0,
    }  # fmt: skip
    assert _render(plots.jacobian_spectrum_figure(zeros, point, depth=3)).startswith(b"\x89PNG")
    spread = np.geomspace(1e-8, 10, 40)
    point |= {"chi1": 1.0, "phase": "critical", "depth_scale": np.inf}
    assert _render(plots.jacobian_spectrum_figure(spread, point, depth=30)).startswith(b"\x89PNG")


def test_shown_layers_spread_from_first_to_last():
    assert plots.shown_layers(4) == [1, 2, 3, 4]
    shown = plots.shown_layers(30)
    assert shown[0] == 1 and shown[-1] == 30 and len(shown) == plots.MAX_PANELS


def test_per_run_figures_draw_zeros_and_divergence_as_what_they_are():
    """A zeros start: histograms say "all exactly 0" (no full-width bar), the signal's zero
    spreads sit on a marked floor of a log axis; a diverged cost is marked where it stops."""
    from initlab.activations import make_activation
    from initlab.config import ReluActivation, ZerosInit
    from initlab.initializers import init_layers

    act = make_activation(ReluActivation())
    X = np.random.default_rng(0).standard_normal((2, 50))
    params = init_layers(ZerosInit(), [2, 4, 3, 1], np.random.default_rng(0), act)
    hist = plots.activation_histograms_figure(params, X, act)
    texts = [t.get_text() for ax in hist.axes for t in ax.texts]
    assert texts == ["all 200 values\nare exactly 0", "all 150 values\nare exactly 0"]
    zero = {"z_std": 0.0, "a_std": 0.0, "z_std_predicted": 0.0, "a_std_predicted": 0.0}
    out = zero | {"z_std_draws": 0.0, "a_std_draws": 0.5}
    signal = plots.signal_figure([zero, zero, out])
    assert signal.axes[0].get_yscale() == "log"
    assert any(t.get_text() == " = 0" for t in signal.axes[0].texts)
    steps = np.arange(0, 1001, 100)
    costs = np.r_[[5.0, 3.0], np.full(steps.size - 2, np.nan)]
    cost = plots.cost_figure(steps, costs)
    assert any("not finite from iteration 200" in t.get_text() for t in cost.axes[0].texts)
    assert cost.axes[0].get_xlim() == (0, 1000)
    for figure in (hist, signal, cost):
        assert _render(figure).startswith(b"\x89PNG")


def test_cost_figures_of_one_dataset_share_their_window_and_show_chance():
    """Side by side, cost.png files compare: a linear axis from 0 to 1.5 × the chance cost
    (ln 2 on balanced classes) for every run that stays below it, the chance dotted."""
    steps = np.arange(0, 1001, 100)
    chance = plots.chance_cost(0.5)
    assert chance == pytest.approx(np.log(2), abs=1e-12)
    assert plots.chance_cost(0.25) == pytest.approx(-(0.25 * np.log(0.25) + 0.75 * np.log(0.75)))
    stuck = plots.cost_figure(steps, np.full(steps.size, np.log(2)), chance=chance)
    learns = plots.cost_figure(steps, np.linspace(0.70, 0.05, steps.size), chance=chance)
    assert stuck.axes[0].get_ylim() == learns.axes[0].get_ylim() == (0, 1.5 * chance)
    assert any(t.get_text().startswith("chance: 0.693") for t in learns.axes[0].texts)
    higher = plots.cost_figure(steps, np.linspace(2.0, 0.1, steps.size), chance=chance)
    assert higher.axes[0].get_ylim() == (0, 3 * chance)  # doubled once: nothing is cut off
    spread = plots.seeds_cost_figure(steps, np.vstack([np.geomspace(50, 0.01, steps.size)] * 2),
                                     chance=chance)  # fmt: skip
    assert spread.axes[0].get_yscale() == "log"
