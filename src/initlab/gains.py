"""Recommended gains per activation: the factor that keeps a layer's signal variance at 1.

These are the values torch.nn.init.calculate_gain uses (linear/sigmoid 1, tanh 5/3, relu √2,
leaky relu √(2 / (1 + slope²)), selu 3/4). torch defines none for elu, gelu and softplus;
initlab uses ReLU's √2 for those ReLU-like units and says so in the docs.

Stored squared, as exact fractions where possible, because variance scaling needs gain² and
the course's He rule is ``sqrt(2 / n_in)``, bit for bit: √2 squared in floating point is not 2.
"""

from __future__ import annotations

GAIN_SQUARED: dict[str, float] = {
    "linear": 1.0,
    "sigmoid": 1.0,
    "tanh": 25.0 / 9.0,
    "relu": 2.0,
    "leaky_relu": 2.0,  # for slope 0; see gain_squared for the slope-dependent value
    "selu": 9.0 / 16.0,
    "elu": 2.0,  # no standard value: ReLU's
    "gelu": 2.0,  # no standard value: ReLU's
    "softplus": 2.0,  # no standard value: ReLU's
}


def gain_squared(activation: str, slope: float = 0.0) -> float:
    """gain² for an activation name; leaky ReLU's depends on its negative slope."""
    if activation == "leaky_relu":
        return 2.0 / (1.0 + slope * slope)
    return GAIN_SQUARED[activation]
