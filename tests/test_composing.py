"""The sweep composer gives, job for job, exactly the config Hydra composes."""

from __future__ import annotations

import itertools

import pytest
from hydra import initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.types import RunMode
from omegaconf import OmegaConf

from conftest import PROJECT_ROOT
from initlab.composing import SweepComposer
from initlab.config import ConfigError, job_config, register_configs, to_settings

SWEEPS = {
    "groups and values": [["init=he", "init=xavier", "init=lsuv"],
                          ["activation=relu", "activation=tanh"], ["seed=1", "seed=2"],
                          ["trainer.lr=0.01", "trainer.lr=0.1"]],
    "a group's own keys": [["init=random"], ["init.scale=2", "init.scale=0.5"],
                           ["model.hidden=[3]", "model.hidden=[20,20]"]],
    "optimizer groups": [["trainer=adam", "trainer=sgd"], ["trainer.lr=0.002", "trainer.lr=0.2"],
                         ["dataset=moons", "dataset=circles"], ["dataset.noise=0.1"]],
    "presets": [["experiment=he2015", "experiment=course"], ["seeds=2", "seeds=3"]],
    "not plain (composed by Hydra)": [["+tracking.tags.x=1", "init=he"], ["seed=5"]],
}  # fmt: skip


def _resolved(cfg) -> dict:
    """The job's config with every interpolation resolved (the Hydra node needs a job
    number to resolve: its text is compared above)."""
    return {key: OmegaConf.to_yaml(cfg[key], resolve=True) if OmegaConf.is_config(cfg[key])
            else cfg[key] for key in cfg if key != "hydra"}  # fmt: skip


@pytest.fixture(scope="module")
def hydra_loader():
    register_configs()
    with initialize_config_dir(str(PROJECT_ROOT / "conf"), version_base="1.3"):
        instance = GlobalHydra.instance()
        master = instance.hydra.compose_config(
            "config", ["-m"][1:], run_mode=RunMode.MULTIRUN, with_log_configuration=False
        )
        yield instance.config_loader(), master


@pytest.mark.parametrize("name", list(SWEEPS))
def test_every_job_is_what_hydra_composes(hydra_loader, name):
    loader, master = hydra_loader
    composer = SweepComposer(loader, master)
    jobs = [list(job) for job in itertools.product(*SWEEPS[name])]
    for job in jobs:
        try:
            expected = loader.load_sweep_config(master, job)
        except Exception as exc:  # a job Hydra refuses, the composer must refuse too
            with pytest.raises(type(exc)):
                composer.compose(job)
            continue
        ours = composer.compose(job)
        assert OmegaConf.to_yaml(ours) == OmegaConf.to_yaml(expected), job
        assert _resolved(ours) == _resolved(expected), job
        assert OmegaConf.is_struct(ours) == OmegaConf.is_struct(expected)
        for key in expected:  # each subtree's schema (dataclass) type too
            assert OmegaConf.get_type(ours, key) == OmegaConf.get_type(expected, key), key
        try:
            settings = to_settings(job_config(expected))
        except ConfigError:  # (+key: composed, then refused by validation: ours too)
            with pytest.raises(ConfigError):
                to_settings(job_config(ours))
            continue
        assert to_settings(job_config(ours)) == settings
    if name.startswith("groups"):  # 3 inits + 2 activations - 1 compositions for 24 jobs
        assert composer.hydra_calls == 4
