"""Composition: defaults are the course, every option composes, typos and bad values fail."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException
from omegaconf.errors import ValidationError

from initlab.config import GROUP_OPTIONS, Config, ConfigError, describe_groups, flatten, to_settings


def test_defaults_are_the_course_setup(compose_cfg):
    s = to_settings(compose_cfg())
    assert isinstance(s, Config)
    assert (s.init.name, s.activation.name, s.dataset.name) == ("he", "relu", "circles")
    assert s.model.hidden == [10, 5]
    assert (s.trainer.lr, s.trainer.iterations) == (0.01, 15000)
    assert (s.dataset.n_train, s.dataset.n_test, s.dataset.noise) == (300, 100, 0.05)
    assert (s.dataset.train_seed, s.dataset.test_seed, s.seed) == (1, 2, 3)
    assert s.tracking.experiment == "initialization"


@pytest.mark.parametrize(
    "group,option", [(g, o) for g, options in GROUP_OPTIONS.items() for o in options]
)
def test_every_option_composes_to_its_schema_defaults(compose_cfg, group, option):
    s = to_settings(compose_cfg(f"{group}={option}"))
    # The YAML menu entry and its schema node agree on every default.
    assert getattr(s, group) == GROUP_OPTIONS[group][option]


def test_group_options_in_conf_match_the_schemas():
    from initlab.config import CONF_DIR

    for group, options in GROUP_OPTIONS.items():
        assert {p.stem for p in (CONF_DIR / group).glob("*.yaml")} == set(options), group


def test_random_scale_and_any_hidden_list(compose_cfg):
    s = to_settings(compose_cfg("init=random", "init.scale=3.5", "model.hidden=[7,7,7,2]"))
    assert s.init.scale == 3.5
    assert s.model.hidden == [7, 7, 7, 2]


def test_unknown_choice_lists_the_options(compose_cfg):
    with pytest.raises(Exception, match=r"init/foo") as info:
        compose_cfg("init=foo")
    for option in GROUP_OPTIONS["init"]:
        assert option in str(info.value)


def test_wrong_type_names_the_key(compose_cfg):
    with pytest.raises(ConfigCompositionException) as info:
        compose_cfg("trainer.lr=abc")
    assert isinstance(info.value.__cause__, ValidationError)
    assert "trainer.lr" in str(info.value.__cause__)


def test_unknown_key_is_an_error(compose_cfg):
    with pytest.raises(ConfigCompositionException, match=r"trainer\.nope"):
        compose_cfg("trainer.nope=1")


def test_scheme_specific_key_only_where_it_exists(compose_cfg):
    with pytest.raises(ConfigCompositionException, match=r"init\.scale"):
        compose_cfg("init=he", "init.scale=2")


@pytest.mark.parametrize(
    "override,key",
    [
        ("trainer.lr=-1", "trainer.lr"),
        ("trainer.lr=0", "trainer.lr"),
        ("trainer.iterations=0", "trainer.iterations"),
        ("trainer.log_every=0", "trainer.log_every"),
        ("model.hidden=[]", "model.hidden"),
        ("model.hidden=[4,0]", "model.hidden"),
        ("dataset.noise=-0.1", "dataset.noise"),
        ("dataset.n_train=1", "dataset.n_train"),
        ("seed=-3", "seed"),
        ("tracking.experiment=' '", "tracking.experiment"),
    ],
)
def test_out_of_range_values_name_the_key(compose_cfg, override, key):
    with pytest.raises(ConfigError, match=rf"^{key} must be"):
        to_settings(compose_cfg(override))


def test_random_scale_must_be_positive(compose_cfg):
    with pytest.raises(ConfigError, match=r"init\.scale"):
        to_settings(compose_cfg("init=random", "init.scale=-1"))


def test_flatten_gives_dotted_params(compose_cfg):
    flat = flatten(compose_cfg("init=random"))
    assert flat["init.name"] == "random"
    assert flat["init.scale"] == "10.0"
    assert flat["model.hidden"] == "[10, 5]"
    assert flat["trainer.lr"] == "0.01"
    assert flat["seed"] == "3"


def test_help_menu_lists_every_group_and_option():
    menu = describe_groups()
    for group, options in GROUP_OPTIONS.items():
        assert f"{group}:" in menu
        for option in options:
            assert f"  {option} " in menu


def test_experiment_presets_override_groups_and_top_level_keys(compose_cfg):
    s = to_settings(compose_cfg("experiment=tanh_study"))
    assert (s.activation.name, s.init.name) == ("tanh", "xavier")
    assert s.tracking.experiment == "tanh_study"
    s = to_settings(compose_cfg("experiment=tanh_study", "init=lecun"))  # and the CLI wins
    assert s.init.name == "lecun"


CLAIM_PRESETS = {  # preset -> number of jobs its own sweep (hydra.sweeper.params) runs
    "he2015": 2,
    "glorot2010": 4,
    "saxe2014": 6,
    "klambauer2017": 2,
    "mishkin2016": 2,
    "schoenholz2017": 50,
}


def test_every_preset_is_a_global_package_with_a_description():
    from initlab.config import CONF_DIR

    presets = sorted((CONF_DIR / "experiment").glob("*.yaml"))
    assert {p.stem for p in presets} >= set(CLAIM_PRESETS)
    for preset in presets:
        first, second = preset.read_text(encoding="utf-8").splitlines()[:2]
        assert first == "# @package _global_", preset.name
        assert second.startswith("# ") and len(second) > 20, preset.name


@pytest.mark.parametrize("preset,jobs", list(CLAIM_PRESETS.items()))
def test_claim_presets_sweep_their_own_grid_and_every_job_validates(compose_cfg, preset, jobs):
    """`-m experiment=<claim>` expands to the preset's grid; every job composes and passes the
    checks, as the sweep callback's preflight will (the runs themselves: tests/test_claims.py)."""
    from omegaconf import OmegaConf

    from initlab.callbacks import expand_sweep
    from initlab.config import CONF_DIR

    # hydra.compose leaves Hydra's own node out of the config: read the preset's sweep itself.
    params = OmegaConf.load(CONF_DIR / "experiment" / f"{preset}.yaml").hydra.sweeper.params
    sweep = expand_sweep([f"experiment={preset}"], params)
    assert len(sweep) == jobs
    for overrides in sweep:
        settings = to_settings(compose_cfg(*overrides))
        assert settings.tracking.experiment == preset


def test_deep_models_take_depth_and_width(compose_cfg):
    s = to_settings(compose_cfg("model=deep"))
    assert s.model.hidden_sizes == [64] * 30
    s = to_settings(compose_cfg("model=deep_wide", "model.depth=3"))
    assert s.model.hidden_sizes == [256] * 3
    assert to_settings(compose_cfg("model.hidden=[7,3]")).model.hidden_sizes == [7, 3]


def test_div_ties_one_setting_to_another(compose_cfg):
    s = to_settings(
        compose_cfg("model=deep", "model.depth=8", "trainer.lr='${div:0.004,${model.depth}}'")
    )
    assert s.trainer.lr == 0.004 / 8
    assert flatten(compose_cfg("model=deep", "trainer.lr='${div:1,${model.depth}}'"))[
        "trainer.lr"
    ] == str(1 / 30)
