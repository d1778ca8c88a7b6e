"""Typed configuration: one dataclass per config-group option, registered in Hydra's ConfigStore.

The YAML files in ``conf/<group>/`` are the menu users read; each one starts from the schema
stored here (``/schema/<group>/<option>@_here_``), so a typo in a key or a value of the wrong
type is a composition error. Range checks live in ``__post_init__`` and run when a composed
config is turned into these objects (:func:`to_settings`), before any MLflow run exists.

This module must stay light: ``train.py --help`` imports it, and must not pay for mlflow,
sklearn or matplotlib.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf


class ConfigError(ValueError):
    """A composed config that is well-typed but out of range; the message names the key."""


def _require(ok: bool, key: str, rule: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{key} must be {rule} (got {value!r})")


# --- init --------------------------------------------------------------------------------


@dataclass
class InitConfig:
    """Base of every init option: ``name`` selects the scheme in ``initlab.initializers``."""

    name: str = MISSING


@dataclass
class ZerosInit(InitConfig):
    name: str = "zeros"


@dataclass
class RandomInit(InitConfig):
    """The course's "too large" start: W = randn(n_out, n_in) * scale."""

    name: str = "random"
    scale: float = 10.0

    def __post_init__(self) -> None:
        _require(math.isfinite(self.scale) and self.scale > 0, "init.scale", "> 0", self.scale)


@dataclass
class HeInit(InitConfig):
    """He et al. 2015: Var(W) = 2 / n_in."""

    name: str = "he"


@dataclass
class XavierInit(InitConfig):
    """Glorot & Bengio 2010: Var(W) = 2 / (n_in + n_out)."""

    name: str = "xavier"


@dataclass
class LecunInit(InitConfig):
    """LeCun et al. 1998: Var(W) = 1 / n_in (the course's other reading of "xavier")."""

    name: str = "lecun"


# --- activation --------------------------------------------------------------------------


@dataclass
class ActivationConfig:
    """The hidden-layer activation; the output layer is always a sigmoid."""

    name: str = MISSING


@dataclass
class ReluActivation(ActivationConfig):
    name: str = "relu"


@dataclass
class LeakyReluActivation(ActivationConfig):
    name: str = "leaky_relu"
    slope: float = 0.01

    def __post_init__(self) -> None:
        _require(0 <= self.slope < 1, "activation.slope", "in [0, 1)", self.slope)


@dataclass
class SigmoidActivation(ActivationConfig):
    name: str = "sigmoid"


@dataclass
class TanhActivation(ActivationConfig):
    name: str = "tanh"


# --- dataset -----------------------------------------------------------------------------


@dataclass
class DatasetConfig:
    name: str = MISSING


@dataclass
class CirclesDataset(DatasetConfig):
    """sklearn's make_circles, seeded the course's way (legacy MT19937 streams 1 and 2)."""

    name: str = "circles"
    n_train: int = 300
    n_test: int = 100
    noise: float = 0.05
    factor: float = 0.8
    train_seed: int = 1
    test_seed: int = 2

    def __post_init__(self) -> None:
        _require(self.n_train >= 2, "dataset.n_train", ">= 2", self.n_train)
        _require(self.n_test >= 2, "dataset.n_test", ">= 2", self.n_test)
        _require(math.isfinite(self.noise) and self.noise >= 0, "dataset.noise", ">= 0", self.noise)
        _require(0 < self.factor < 1, "dataset.factor", "in (0, 1)", self.factor)
        for key, seed in (
            ("dataset.train_seed", self.train_seed),
            ("dataset.test_seed", self.test_seed),
        ):
            _require(0 <= seed < 2**32, key, "in [0, 2**32)", seed)


# --- model -------------------------------------------------------------------------------


@dataclass
class ModelConfig:
    """A fully connected net: input -> hidden layers (the activation) -> 1 sigmoid unit."""

    name: str = "course"
    hidden: list[int] = field(default_factory=lambda: [10, 5])

    def __post_init__(self) -> None:
        hidden = list(self.hidden)
        _require(len(hidden) > 0, "model.hidden", "a non-empty list of positive ints", hidden)
        _require(all(n > 0 for n in hidden), "model.hidden", "a list of positive ints", hidden)


# --- trainer -----------------------------------------------------------------------------


@dataclass
class TrainerConfig:
    """Full-batch gradient descent."""

    name: str = "gd"
    lr: float = 0.01
    iterations: int = 15000
    log_every: int = 100

    def __post_init__(self) -> None:
        _require(math.isfinite(self.lr) and self.lr > 0, "trainer.lr", "> 0", self.lr)
        _require(self.iterations >= 1, "trainer.iterations", ">= 1", self.iterations)
        _require(self.log_every >= 1, "trainer.log_every", ">= 1", self.log_every)


# --- tracking and the top level ----------------------------------------------------------


@dataclass
class TrackingConfig:
    """Where runs go. ``uri: null`` means $MLFLOW_TRACKING_URI, else <project>/mlruns/mlflow.db."""

    uri: str | None = None
    experiment: str = "initialization"
    enabled: bool = True

    def __post_init__(self) -> None:
        _require(
            bool(self.experiment.strip()),
            "tracking.experiment",
            "a non-empty name",
            self.experiment,
        )


@dataclass
class Config:
    init: InitConfig = MISSING
    activation: ActivationConfig = MISSING
    dataset: DatasetConfig = MISSING
    model: ModelConfig = MISSING
    trainer: TrainerConfig = MISSING
    tracking: TrackingConfig = field(default_factory=TrackingConfig)
    # Seeds the weight init. The course calls np.random.seed(3) before drawing weights.
    seed: int = 3

    def __post_init__(self) -> None:
        _require(0 <= self.seed < 2**32, "seed", "in [0, 2**32)", self.seed)


GROUP_SCHEMAS: dict[str, dict[str, type]] = {
    "init": {
        "zeros": ZerosInit,
        "random": RandomInit,
        "he": HeInit,
        "xavier": XavierInit,
        "lecun": LecunInit,
    },
    "activation": {
        "relu": ReluActivation,
        "leaky_relu": LeakyReluActivation,
        "sigmoid": SigmoidActivation,
        "tanh": TanhActivation,
    },
    "dataset": {"circles": CirclesDataset},
    "model": {"course": ModelConfig},
    "trainer": {"gd": TrainerConfig},
}


CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
MENU_GROUPS = ("init", "activation", "dataset", "model", "trainer", "experiment")


def _description(option_file: Path) -> str:
    """The first plain comment line of a YAML option: its one-line description."""
    for line in option_file.read_text(encoding="utf-8").splitlines():
        text = line.lstrip("# ").strip()
        if line.startswith("#") and text and not text.startswith("@package"):
            return text
    return ""


def describe_groups(conf_dir: Path = CONF_DIR) -> str:
    """The menu ``--help`` shows: every group's options with their descriptions, from conf/."""
    lines = []
    for group in MENU_GROUPS:
        options = sorted((conf_dir / group).glob("*.yaml"))
        lines.append(f"{group}:")
        width = max((len(o.stem) for o in options), default=0)
        lines += [f"  {o.stem:<{width}}  {_description(o)}" for o in options]
    return "\n".join(lines)


def register_configs() -> None:
    """Store the schemas under ``schema/<group>/<option>``; conf/ YAML extends them."""
    from hydra.core.config_store import ConfigStore

    if not OmegaConf.has_resolver("initlab_groups"):
        OmegaConf.register_new_resolver("initlab_groups", lambda: describe_groups())
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=Config)
    for group, options in GROUP_SCHEMAS.items():
        for option, schema in options.items():
            cs.store(group=f"schema/{group}", name=option, node=schema)


def to_settings(cfg: DictConfig) -> Config:
    """Turn a composed config into validated dataclasses (runs every ``__post_init__``)."""
    settings = OmegaConf.to_object(cfg)
    if not isinstance(settings, Config):  # a config composed without the schema
        raise ConfigError(f"config was not built on the initlab schema (got {type(settings)})")
    return settings


def flatten(cfg: DictConfig | dict, prefix: str = "") -> dict[str, str]:
    """``{"trainer.lr": "0.01", ...}``: the resolved config as MLflow params (lists stay whole)."""
    tree = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    flat: dict[str, str] = {}
    for key, value in tree.items():
        if key == "hydra":
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, prefix=f"{name}."))
        else:
            flat[name] = str(value)
    return flat
