"""Activations and gains against values written out here (found by mutation testing: each
test fails on some mutant of initlab.activations or initlab.gains the other tests let by)."""

from __future__ import annotations

import numpy as np
import pytest

from initlab.activations import Elu, Sigmoid, Tanh, make_activation
from initlab.config import EluActivation, LeakyReluActivation, SeluActivation
from initlab.gains import gain_squared


def test_tanh_backprop_in_place_is_da_times_one_minus_a_squared():
    z = np.array([[-1.0, 0.0, 0.5]])
    a = np.array([[-0.7615941559557649, 0.0, 0.46211715726000974]])  # tanh(z)
    da = np.array([[2.0, 3.0, -4.0]])
    out = np.full((1, 3), 7.0)  # the buffer's old content must not matter
    Tanh("tanh").backprop(da, z, a, out, np.zeros((1, 3), dtype=bool))
    np.testing.assert_allclose(out, [[0.8399486832280523, 3.0, -3.1457909318637096]], rtol=1e-15)


def test_the_generic_backprop_uses_the_activation_it_is_given():
    # Sigmoid's φ' comes from a = σ(z): a(1 - a).
    z = np.array([[-2.0, 0.0, 1.0]])
    a = np.array([[0.11920292202211755, 0.5, 0.7310585786300049]])
    out = np.full((1, 3), 7.0)
    Sigmoid("sigmoid").backprop(np.array([[2.0, 3.0, -4.0]]), z, a, out, np.zeros((1, 3), bool))
    np.testing.assert_allclose(out, [[0.209987170807013, 0.75, -0.7864477329659274]], rtol=1e-14)


def test_elu_at_zero_takes_the_left_side_as_the_compiled_kernel_does():
    selu = make_activation(SeluActivation())
    assert isinstance(selu, Elu)
    # SELU'(0) = scale · alpha (the left derivative), not scale.
    assert selu.grad(np.array([0.0]), None)[0] == pytest.approx(1.7580993408473766, rel=1e-15)
    assert selu(np.array([0.0]))[0] == 0.0
    elu = make_activation(EluActivation(alpha=0.5))
    assert elu.grad(np.array([0.0, -1.0, 2.0]), None).tolist() == pytest.approx(
        [0.5, 0.5 * 0.36787944117144233, 1.0], rel=1e-15
    )


@pytest.mark.parametrize(
    "slope, g2", [(0.0, 2.0), (0.5, 1.6), (0.2, 2 / 1.04)]
)  # fmt: skip
def test_leaky_relu_gain_depends_on_its_slope(slope, g2):
    assert gain_squared("leaky_relu", slope) == pytest.approx(g2, rel=1e-15)
    act = make_activation(LeakyReluActivation(slope=slope))
    assert act.gain_squared == pytest.approx(g2, rel=1e-15)


@pytest.mark.parametrize(
    "name, g2",
    [("linear", 1.0), ("sigmoid", 1.0), ("tanh", 25 / 9), ("relu", 2.0), ("selu", 0.5625),
     ("elu", 2.0), ("gelu", 2.0), ("softplus", 2.0), ("leaky_relu", 2.0)],
)  # fmt: skip
def test_gain_table(name, g2):
    assert gain_squared(name) == g2


def test_the_derivative_at_zero_is_the_left_one_as_the_kernel_computes_it():
    from initlab.activations import LeakyRelu, Relu

    assert Relu("relu").grad(np.array([0.0, 1.0]), None).tolist() == [False, True]
    assert LeakyRelu("leaky_relu", slope=0.3).grad(np.array([0.0, 1.0]), None).tolist() == [
        0.3, 1.0]  # fmt: skip


def test_make_activation_names_what_it_makes_and_lists_the_known_ones():
    assert make_activation(SeluActivation()).name == "selu"

    class Unknown:
        name = "swish"

    with pytest.raises(ValueError) as err:
        make_activation(Unknown())
    assert str(err.value) == (
        "unknown activation 'swish'; choose one of ['elu', 'gelu', 'leaky_relu', 'linear', "
        "'relu', 'selu', 'sigmoid', 'softplus', 'tanh']"
    )
