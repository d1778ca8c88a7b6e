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
from enum import Enum
from pathlib import Path
from typing import Any

from omegaconf import MISSING, DictConfig, OmegaConf


class ConfigError(ValueError):
    """A composed config that is well-typed but out of range; the message names the key."""


def _require(ok: bool, key: str, rule: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{key} must be {rule} (got {value!r})")


def _require_positive(key: str, value: float) -> None:
    _require(math.isfinite(value) and value > 0, key, "> 0", value)


# --- init --------------------------------------------------------------------------------


class Distribution(Enum):
    normal = "normal"
    uniform = "uniform"
    truncated_normal = "truncated_normal"  # cut at ±2 std, std corrected (Keras' rule)


class FanMode(Enum):
    fan_in = "fan_in"  # preserves the forward signal's variance
    fan_out = "fan_out"  # preserves the backward gradient's variance
    fan_avg = "fan_avg"  # Glorot's compromise: (fan_in + fan_out) / 2


# Keras divides the std of a ±2σ truncated normal by this (the std of a standard normal
# truncated to [-2, 2]) so that the draws have the std that was asked for.
TRUNCATED_STD_FACTOR = 0.87962566103423978


def parse_gain(gain: str, key: str = "init.gain") -> str | float:
    """``auto`` (the run's activation), an activation name (its gain), or a positive number."""
    from initlab.gains import GAIN_SQUARED  # light module: a table of numbers

    text = str(gain).strip()
    if text == "auto" or text in GAIN_SQUARED:
        return text
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    _require(
        math.isfinite(value) and value > 0,
        key,
        f"'auto', an activation name ({', '.join(GAIN_SQUARED)}) or a number > 0",
        gain,
    )
    return value


@dataclass
class InitConfig:
    """Base of every init option. Biases start at ``bias`` (0.01 is a common choice for ReLU
    nets, to keep units alive) plus, with ``bias_std`` > 0, N(0, bias_std²) noise: the σ_b of
    mean-field theory, for sweeping the (σ_w, σ_b) plane."""

    name: str = MISSING
    bias: float = 0.0
    bias_std: float = 0.0

    def __post_init__(self) -> None:
        _require(math.isfinite(self.bias), "init.bias", "a finite number", self.bias)
        _require(
            math.isfinite(self.bias_std) and self.bias_std >= 0,
            "init.bias_std",
            ">= 0 (0: every bias is init.bias)",
            self.bias_std,
        )


@dataclass
class ZerosInit(InitConfig):
    name: str = "zeros"


@dataclass
class ConstantInit(InitConfig):
    """Every weight the same value: symmetry is never broken, like zeros."""

    name: str = "constant"
    value: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(math.isfinite(self.value), "init.value", "a finite number", self.value)


@dataclass
class RandomInit(InitConfig):
    """W = randn(n_out, n_in) * scale: the course's ×10 start ("random") or Ng's ×0.01 ("small")."""

    name: str = "random"
    scale: float = 10.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_positive("init.scale", self.scale)


@dataclass
class NormalInit(InitConfig):
    """W ~ N(0, std²)."""

    name: str = "normal"
    std: float = 0.05

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_positive("init.std", self.std)


@dataclass
class UniformInit(InitConfig):
    """W ~ U(-bound, bound)."""

    name: str = "uniform"
    bound: float = 0.05

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_positive("init.bound", self.bound)


@dataclass
class TruncatedNormalInit(InitConfig):
    """N(0, std²) redrawn outside ±2·std. ``std`` is the untruncated distribution's (as in
    TensorFlow's truncated_normal), so draws have std 0.8796·std; ``corrected: true`` divides
    by 0.87962566103423978 first (Keras' rule) so that the draws have std ``std``."""

    name: str = "truncated_normal"
    std: float = 0.05
    corrected: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_positive("init.std", self.std)


@dataclass
class VarianceScalingInit(InitConfig):
    """Var(W) = gain² / fan: Glorot/Xavier (fan_avg, gain 1), He/Kaiming (fan_in, gain of
    ReLU = √2), LeCun (fan_in, gain 1). ``gain: auto`` takes the run's activation's gain."""

    name: str = "variance_scaling"
    distribution: Distribution = Distribution.normal
    mode: FanMode = FanMode.fan_in
    gain: str = "1"

    def __post_init__(self) -> None:
        super().__post_init__()
        parse_gain(self.gain)


@dataclass
class XavierInit(VarianceScalingInit):
    """Glorot & Bengio 2010: Var(W) = 2 / (n_in + n_out)."""

    name: str = "xavier"
    mode: FanMode = FanMode.fan_avg


@dataclass
class HeInit(VarianceScalingInit):
    """He et al. 2015: Var(W) = 2 / n_in (the gain of ReLU, √2, squared)."""

    name: str = "he"
    gain: str = "relu"


@dataclass
class LecunInit(VarianceScalingInit):
    """LeCun et al. 1998: Var(W) = 1 / n_in (the course's other reading of "xavier")."""

    name: str = "lecun"


# Glorot & Bengio's "standard" init, U(±1/√n_in), is LeCun's uniform rule with gain 1/√3
# (the bound of U(±a) with std g/√n is a = √3·g/√n). It is also torch.nn.Linear's default.
STANDARD_GAIN = "0.5773502691896258"


@dataclass
class OrthogonalInit(InitConfig):
    """Saxe et al. 2014: a (semi-)orthogonal matrix times gain; works for non-square layers."""

    name: str = "orthogonal"
    gain: str = "1"

    def __post_init__(self) -> None:
        super().__post_init__()
        parse_gain(self.gain)


@dataclass
class IdentityInit(InitConfig):
    """W = gain · I. Non-square layers get the rectangular identity (ones on the main
    diagonal, as torch's eye_), unless ``strict: true`` makes them an error."""

    name: str = "identity"
    gain: str = "1"
    strict: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        parse_gain(self.gain)


@dataclass
class SparseInit(InitConfig):
    """Martens 2010: N(0, std²) with a fraction ``sparsity`` of each column set to zero."""

    name: str = "sparse"
    sparsity: float = 0.5
    std: float = 0.01

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(0 <= self.sparsity < 1, "init.sparsity", "in [0, 1)", self.sparsity)
        _require_positive("init.std", self.std)


@dataclass
class LsuvInit(InitConfig):
    """Mishkin & Matas 2016: orthogonal start, then each layer in turn is rescaled on a data
    batch until its output variance is within ``tolerance`` of 1 (at most ``max_iterations``)."""

    name: str = "lsuv"
    tolerance: float = 0.1
    max_iterations: int = 10
    batch_size: int = 0  # 0: the whole training set

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(0 < self.tolerance < 1, "init.tolerance", "in (0, 1)", self.tolerance)
        _require(self.max_iterations >= 1, "init.max_iterations", ">= 1", self.max_iterations)
        _require(self.batch_size >= 0, "init.batch_size", ">= 0 (0: all)", self.batch_size)


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
class EluActivation(ActivationConfig):
    name: str = "elu"
    alpha: float = 1.0

    def __post_init__(self) -> None:
        _require_positive("activation.alpha", self.alpha)


@dataclass
class SeluActivation(ActivationConfig):
    name: str = "selu"


@dataclass
class GeluActivation(ActivationConfig):
    name: str = "gelu"


@dataclass
class SoftplusActivation(ActivationConfig):
    name: str = "softplus"


@dataclass
class SigmoidActivation(ActivationConfig):
    name: str = "sigmoid"


@dataclass
class TanhActivation(ActivationConfig):
    name: str = "tanh"


@dataclass
class LinearActivation(ActivationConfig):
    name: str = "linear"


# --- dataset -----------------------------------------------------------------------------


def resolve_data_path(path: str) -> Path:
    """A data file's path: absolute as given (``~`` expanded), else under the project root."""
    resolved = Path(path).expanduser()
    if not resolved.is_absolute():
        resolved = Path(__file__).resolve().parents[2] / resolved
    return resolved


def _require_seed(key: str, seed: int) -> None:
    _require(0 <= seed < 2**32, key, "in [0, 2**32)", seed)


@dataclass
class DatasetConfig:
    """Base of every dataset option. ``standardize`` rescales each feature to mean 0 and
    std 1 with statistics of the training split only (applied to both splits)."""

    name: str = MISSING
    standardize: bool = False

    def __post_init__(self) -> None:
        pass


@dataclass
class GeneratedDataset(DatasetConfig):
    """A synthetic 2-D set: independent train and test draws from two seeds. ``noise`` is
    the std of the Gaussian noise added to each coordinate (the sets span about [-1, 1])."""

    n_train: int = 300
    n_test: int = 100
    noise: float = 0.05
    train_seed: int = 1
    test_seed: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.n_train >= 2, "dataset.n_train", ">= 2", self.n_train)
        _require(self.n_test >= 2, "dataset.n_test", ">= 2", self.n_test)
        _require(math.isfinite(self.noise) and self.noise >= 0, "dataset.noise", ">= 0", self.noise)
        _require_seed("dataset.train_seed", self.train_seed)
        _require_seed("dataset.test_seed", self.test_seed)
        _require(
            self.test_seed != self.train_seed,
            "dataset.test_seed",
            f"different from dataset.train_seed={self.train_seed} (independent draws)",
            self.test_seed,
        )


@dataclass
class CirclesDataset(GeneratedDataset):
    """sklearn's make_circles, seeded the course's way (legacy MT19937 streams 1 and 2)."""

    name: str = "circles"
    factor: float = 0.8  # inner radius / outer radius

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(0 < self.factor < 1, "dataset.factor", "in (0, 1)", self.factor)


@dataclass
class MoonsDataset(GeneratedDataset):
    """sklearn's make_moons: two interleaved half circles."""

    name: str = "moons"
    noise: float = 0.2


@dataclass
class XorDataset(GeneratedDataset):
    """Points uniform in [-1, 1]²; label 1 where x1 and x2 have opposite signs."""

    name: str = "xor"
    noise: float = 0.1


@dataclass
class GaussianDataset(GeneratedDataset):
    """Two Gaussian blobs (sklearn's make_blobs) in ``n_features`` dimensions whose centres are
    ``separation`` apart on the diagonal; each blob's std is ``cluster_std`` (``noise`` adds to
    it). Linearly separable up to the blobs' overlap."""

    name: str = "gaussian"
    noise: float = 0.0
    separation: float = 3.0
    cluster_std: float = 0.5
    n_features: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.n_features >= 1, "dataset.n_features", ">= 1", self.n_features)
        _require(
            math.isfinite(self.separation) and self.separation >= 0,
            "dataset.separation",
            ">= 0",
            self.separation,
        )
        _require_positive("dataset.cluster_std", self.cluster_std)


@dataclass
class SpiralDataset(GeneratedDataset):
    """Two interleaved spirals (TensorFlow Playground's), radius 0 to 1 over ``turns`` turns."""

    name: str = "spiral"
    turns: float = 1.75

    def __post_init__(self) -> None:
        super().__post_init__()
        _require_positive("dataset.turns", self.turns)


@dataclass
class CsvDataset(DatasetConfig):
    """A user's CSV file with a header row: ``label`` is the label column (exactly two
    values), ``features`` the input columns (empty: every other column). Relative paths are
    under the project root. With ``test_path: null`` the file is split: ``test_fraction`` of
    its rows, shuffled by ``split_seed``, become the test set."""

    name: str = "csv"
    standardize: bool = True
    path: str = "data/iris_versicolor_virginica.csv"
    label: str = "label"
    features: list[str] = field(default_factory=list)
    test_path: str | None = None
    test_fraction: float = 0.25
    split_seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        features = list(self.features)
        _require(bool(str(self.label).strip()), "dataset.label", "a column name", self.label)
        _require(
            all(str(f).strip() for f in features), "dataset.features", "column names", features
        )
        _require(
            len(set(features)) == len(features), "dataset.features", "without repeats", features
        )
        _require(
            self.label not in features,
            "dataset.features",
            f"columns other than the label column {self.label!r}",
            features,
        )
        _require(
            0 < self.test_fraction < 1, "dataset.test_fraction", "in (0, 1)", self.test_fraction
        )
        _require_seed("dataset.split_seed", self.split_seed)
        for key, path in (("dataset.path", self.path), ("dataset.test_path", self.test_path)):
            if path is None:
                continue
            _require(bool(str(path).strip()), key, "a file path", path)
            resolved = resolve_data_path(path)
            _require(resolved.is_file(), key, f"an existing file ({resolved} is not one)", path)


# --- model -------------------------------------------------------------------------------


@dataclass
class ModelConfig:
    """A fully connected net: input -> hidden layers (the activation) -> 1 sigmoid unit."""

    name: str = MISSING

    @property
    def hidden_sizes(self) -> list[int]:
        """The width of every hidden layer, input side first."""
        raise NotImplementedError


@dataclass
class HiddenListModel(ModelConfig):
    """Any list of hidden-layer widths (the course's is [10, 5])."""

    name: str = "course"
    hidden: list[int] = field(default_factory=lambda: [10, 5])

    def __post_init__(self) -> None:
        hidden = list(self.hidden)
        _require(len(hidden) > 0, "model.hidden", "a non-empty list of positive ints", hidden)
        _require(all(n > 0 for n in hidden), "model.hidden", "a list of positive ints", hidden)

    @property
    def hidden_sizes(self) -> list[int]:
        return list(self.hidden)


@dataclass
class DeepModel(ModelConfig):
    """``depth`` hidden layers of ``width`` units each: the deep nets of the papers' claims."""

    name: str = "deep"
    depth: int = 30
    width: int = 64

    def __post_init__(self) -> None:
        _require(1 <= self.depth <= MAX_DEPTH, "model.depth", f"in [1, {MAX_DEPTH}]", self.depth)
        _require(self.width >= 1, "model.width", ">= 1", self.width)

    @property
    def hidden_sizes(self) -> list[int]:
        return [self.width] * self.depth


MAX_DEPTH = 10_000


# --- trainer -----------------------------------------------------------------------------


class Engine(Enum):
    auto = "auto"  # numba when installed and the activation is supported, else numpy
    numba = "numba"  # compiled: each replica's whole loop in one call, replicas on all cores
    numpy = "numpy"  # the reference: the course's operations in the course's order


class Precision(Enum):
    float64 = "float64"
    float32 = "float32"  # numba only: ~1.5x faster; course-run costs within ~1e-4 of float64


@dataclass
class TrainerConfig:
    """What every optimizer shares: the step size and count, the batches, the remedies.

    ``iterations`` counts parameter updates (steps), whatever the batch size. ``batch_size``
    0 trains on the whole set every step; otherwise on mini-batches, each epoch a fresh
    permutation from the trainer's own generator (``shuffle_seed``), the same for every seed.
    ``weight_decay`` adds weight_decay·W to the weights' gradients (L2; biases are not
    decayed); ``clip_norm`` > 0 scales a gradient longer than it down to it (global norm).
    ``target_cost`` (optional) makes every run record how many steps it took to get there.
    """

    name: str = "gd"
    lr: float = 0.01
    iterations: int = 15000
    log_every: int = 100
    batch_size: int = 0
    shuffle_seed: int = 0
    weight_decay: float = 0.0
    clip_norm: float = 0.0
    target_cost: float | None = None
    engine: Engine = Engine.auto
    dtype: Precision = Precision.float64

    def __post_init__(self) -> None:
        _require(
            not (self.engine == Engine.numpy and self.dtype == Precision.float32),
            "trainer.dtype",
            "float64 with trainer.engine=numpy (float32 needs the numba engine)",
            self.dtype.value,
        )
        _require_positive("trainer.lr", self.lr)
        _require(self.iterations >= 1, "trainer.iterations", ">= 1", self.iterations)
        _require(self.log_every >= 1, "trainer.log_every", ">= 1", self.log_every)
        _require(self.batch_size >= 0, "trainer.batch_size", ">= 0 (0: all)", self.batch_size)
        _require(
            0 <= self.shuffle_seed < 2**32,
            "trainer.shuffle_seed",
            "in [0, 2**32)",
            self.shuffle_seed,
        )
        for key, value in (("weight_decay", self.weight_decay), ("clip_norm", self.clip_norm)):
            _require(math.isfinite(value) and value >= 0, f"trainer.{key}", ">= 0 (0: off)", value)
        if self.target_cost is not None:
            _require(
                math.isfinite(self.target_cost) and self.target_cost >= 0,
                "trainer.target_cost",
                ">= 0 or null",
                self.target_cost,
            )


@dataclass
class MomentumTrainer(TrainerConfig):
    """v ← β·v + (1-β)·g; θ ← θ - lr·v (the course's exponentially weighted form)."""

    name: str = "momentum"
    beta: float = 0.9

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(0 <= self.beta < 1, "trainer.beta", "in [0, 1)", self.beta)


@dataclass
class AdamTrainer(TrainerConfig):
    """Kingma & Ba 2015, with bias-corrected moments (as torch.optim.Adam)."""

    name: str = "adam"
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(0 <= self.beta1 < 1, "trainer.beta1", "in [0, 1)", self.beta1)
        _require(0 <= self.beta2 < 1, "trainer.beta2", "in [0, 1)", self.beta2)
        _require_positive("trainer.eps", self.eps)


# --- tracking and the top level ----------------------------------------------------------


class FigurePolicy(Enum):
    auto = "auto"  # per-run figures for sweeps of up to figures_max_jobs jobs (and single runs)
    all = "all"  # every run draws its figures
    none = "none"  # metrics only (the report still draws its sweep-level figures from them)


@dataclass
class TrackingConfig:
    """Where runs go. ``uri: null`` means $MLFLOW_TRACKING_URI, else <project>/mlruns/mlflow.db."""

    uri: str | None = None
    experiment: str = "initialization"
    enabled: bool = True
    # A seeds=K job's run always has every seed's numbers (the table seeds.json); with this,
    # also one nested run per seed (off: 40 nested runs a job push sweeps off the UI's page).
    seed_runs: bool = False
    # Per-run figures cost ~1-3 s a run (deep nets: the boundary over a 175k-point grid, four
    # times for its evolution): a person looks at them for a few runs, not for hundreds.
    figures: FigurePolicy = FigurePolicy.auto
    figures_max_jobs: int = 20
    # In a sweep of more than figures_max_jobs jobs, each curve over training (cost, its
    # seed band, train/layer<l>/...) keeps about this many evenly spaced points, ends kept
    # (the lecture prints its cost 15 times): MLflow's SQL store writes ~80 µs a point, most
    # of a large sweep's tracking time, and a course run logs ~500 of them at 20. The
    # values at init stay whole. 0: every logged step.
    large_sweep_curve_points: int = 20
    # Build the sweep's report when it ends (reports/<experiment>/<sweep>/, and on the parent
    # run). Off by default: it adds a few seconds to every sweep; `make run` and
    # `python src/report.py` build it on demand.
    report: bool = False

    def __post_init__(self) -> None:
        _require(
            self.figures_max_jobs >= 0, "tracking.figures_max_jobs", ">= 0", self.figures_max_jobs
        )
        _require(
            self.large_sweep_curve_points == 0 or self.large_sweep_curve_points >= 2,
            "tracking.large_sweep_curve_points",
            "0 (every step) or >= 2",
            self.large_sweep_curve_points,
        )
        _require(
            bool(self.experiment.strip()),
            "tracking.experiment",
            "a non-empty name",
            self.experiment,
        )


MAX_SEEDS = 10_000


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
    # Train this many seeds (seed, seed+1, ...) as stacked replicas in one job: one nested
    # MLflow run per seed, and their statistics on the job's run.
    seeds: int = 1
    # Per-layer diagnostics (signal statistics, predicted variance, symmetry) on every run.
    diagnostics: bool = True

    def __post_init__(self) -> None:
        _require(0 <= self.seed < 2**32, "seed", "in [0, 2**32)", self.seed)
        _require(1 <= self.seeds <= MAX_SEEDS, "seeds", f"in [1, {MAX_SEEDS}]", self.seeds)
        _require(
            self.seed + self.seeds <= 2**32, "seed + seeds", "<= 2**32", self.seed + self.seeds
        )


# Every option of every group: the schema node its YAML file in conf/ extends.
GROUP_OPTIONS: dict[str, dict[str, object]] = {
    "init": {
        "zeros": ZerosInit(),
        "constant": ConstantInit(),
        "small": RandomInit(name="small", scale=0.01),
        "random": RandomInit(),
        "normal": NormalInit(),
        "uniform": UniformInit(),
        "truncated_normal": TruncatedNormalInit(),
        "xavier": XavierInit(),
        "xavier_uniform": XavierInit(name="xavier_uniform", distribution=Distribution.uniform),
        "glorot": XavierInit(name="glorot"),
        "glorot_uniform": XavierInit(name="glorot_uniform", distribution=Distribution.uniform),
        "he": HeInit(),
        "he_uniform": HeInit(name="he_uniform", distribution=Distribution.uniform),
        "kaiming": HeInit(name="kaiming"),
        "kaiming_uniform": HeInit(name="kaiming_uniform", distribution=Distribution.uniform),
        "lecun": LecunInit(),
        "lecun_uniform": LecunInit(name="lecun_uniform", distribution=Distribution.uniform),
        "standard": LecunInit(
            name="standard", distribution=Distribution.uniform, gain=STANDARD_GAIN
        ),
        "orthogonal": OrthogonalInit(),
        "identity": IdentityInit(),
        "sparse": SparseInit(),
        "lsuv": LsuvInit(),
    },
    "activation": {
        "relu": ReluActivation(),
        "leaky_relu": LeakyReluActivation(),
        "elu": EluActivation(),
        "selu": SeluActivation(),
        "gelu": GeluActivation(),
        "softplus": SoftplusActivation(),
        "sigmoid": SigmoidActivation(),
        "tanh": TanhActivation(),
        "linear": LinearActivation(),
    },
    "dataset": {
        "circles": CirclesDataset(),
        "moons": MoonsDataset(),
        "xor": XorDataset(),
        "gaussian": GaussianDataset(),
        "spiral": SpiralDataset(),
        "csv": CsvDataset(),
    },
    "model": {
        "course": HiddenListModel(),
        "deep": DeepModel(),
        "deep_wide": DeepModel(name="deep_wide", width=256),
    },
    "trainer": {
        "gd": TrainerConfig(),
        "sgd": TrainerConfig(name="sgd", lr=0.05, batch_size=64),
        "momentum": MomentumTrainer(lr=0.05, batch_size=64),
        "adam": AdamTrainer(lr=0.005, batch_size=64),
    },
}


CONF_DIR = Path(__file__).resolve().parents[2] / "conf"
MENU_GROUPS = ("init", "activation", "dataset", "model", "trainer", "experiment")
OPTIONAL_GROUPS = ("experiment",)  # Hydra skips an unknown option of these: check_choices


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
    if not OmegaConf.has_resolver("div"):
        # ${div:a,b} = a / b: lets a preset tie one value to another, e.g. the learning rate
        # to the depth (trainer.lr: ${div:0.016,${model.depth}}).
        OmegaConf.register_new_resolver("div", lambda a, b: float(a) / float(b))
    cs = ConfigStore.instance()
    cs.store(name="base_config", node=Config)
    for group, options in GROUP_OPTIONS.items():
        for option, node in options.items():
            cs.store(group=f"schema/{group}", name=option, node=node)


def to_settings(cfg: DictConfig) -> Config:
    """Turn a composed config into validated dataclasses (runs every ``__post_init__``).

    A key added with ``+`` (``+trainer.momentum=0.9``) is in the config but in no schema:
    it would be logged and ignored, so it is an error like any unknown key.
    """
    import copy
    import json

    from omegaconf.errors import MissingMandatoryValue

    try:
        text = json.dumps(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True),
                          sort_keys=True, default=str)  # fmt: skip
        if (known := _SETTINGS.get(text)) is not None:  # (a sweep asks several times a job)
            return copy.deepcopy(known)
        settings = OmegaConf.to_object(cfg)
    except MissingMandatoryValue as exc:  # ``~init`` removed a group every job needs
        key = exc.full_key or "a key"
        raise ConfigError(
            f"{key} has no value (removed with ~{key}, or left as ???): every job needs one; "
            f"set it with {key}=..."
        ) from None
    if not isinstance(settings, Config):  # a config composed without the schema
        raise ConfigError(f"config was not built on the initlab schema (got {type(settings)})")
    unknown = sorted(set(flatten(cfg)) - set(flatten(OmegaConf.structured(settings))))
    if unknown:
        from initlab.suggestions import key_hint

        hints = [f"{key}{key_hint(key)}" for key in unknown]
        raise ConfigError(
            f"unknown key {', '.join(hints)}: initlab has no such setting "
            "(a key added with + is not one either)"
        )
    _SETTINGS[text] = copy.deepcopy(settings)
    return settings


# Validated settings by the resolved config they came from: building them (schema, checks,
# the unknown-key comparison) takes ~7 ms, and a sweep's job is validated up to three times.
_SETTINGS: dict[str, Config] = {}


def check_choices(choices: dict[str, str | None]) -> None:
    """Every group option chosen exists in conf/. Hydra checks this itself except for an
    optional group: ``experiment=nope`` would quietly train the defaults."""
    for group, choice in choices.items():
        folder = CONF_DIR / group
        if choice in (None, "None", "null") or "/" in group or not folder.is_dir():
            continue
        options = sorted(p.stem for p in folder.glob("*.yaml"))
        if choice not in options:
            from initlab.suggestions import option_hint

            hint = option_hint(choice, options)
            raise ConfigError(
                f"{group}={choice}: no such option{';' + hint if hint else ''} "
                f"({', '.join(options)})"
            )


def job_config(config: DictConfig) -> DictConfig:
    """A composed config as a job's task sees it: Hydra's own node removed, schema kept."""
    import copy

    # Deep-copying the Hydra node is most of the cost of a copy (4 ms of 5; sweeps copy each
    # job's config several times), so it is set aside while the rest is copied, then put
    # back where it was.
    content = config.__dict__["_content"]
    if "hydra" not in content:
        return copy.deepcopy(config)
    order = list(content)
    hydra = content.pop("hydra")
    try:
        return copy.deepcopy(config)
    finally:
        content["hydra"] = hydra
        for key in order:  # the original order of the keys
            content[key] = content.pop(key)


def flatten(cfg: DictConfig | dict, prefix: str = "") -> dict[str, str]:
    """``{"trainer.lr": "0.01", ...}``: the resolved config as MLflow params (lists stay whole)."""
    tree = (
        OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)
        if isinstance(cfg, DictConfig)
        else cfg
    )
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
