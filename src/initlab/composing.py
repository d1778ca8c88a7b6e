"""Compose a sweep's jobs as Hydra does, at a fraction of the cost.

Hydra composes every job from scratch: the defaults tree, every group's file and schema, the
merges; about 70 ms a job here, 14 s of a 200-job sweep. Jobs that choose the same config
groups (``init=he activation=tanh``) differ only in plain values (``seed=1``,
``trainer.lr=0.1``), and Hydra applies those last, to the composed tree. So a sweep composes
once per distinct set of group choices (and set of value keys), with Hydra, and every other
job is that composition copied, with its own values applied by Hydra's own function and the
two fields of the Hydra node that name them (``hydra.overrides.task``,
``hydra.job.override_dirname``) set as Hydra sets them. Anything else (``+key``, ``~key``,
``++key``, a sweep inside a value) is composed by Hydra as before. And a combination of
self-contained groups not composed yet (``init=xavier activation=tanh``) is built from two
that were (``init=xavier activation=relu`` with the ``activation`` subtree of ``init=he
activation=tanh``): a sweep over I inits × A activations composes I + A - 1 times, not I × A.
tests/test_composing.py checks the result equals Hydra's, node for node, on sweeps of every
kind.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from omegaconf import DictConfig, OmegaConf, open_dict, read_write

# Groups whose options fill only their own package (conf/<group>/*.yaml, no `@package`
# header, no other group in their defaults): one option's subtree can stand in for another's.
SWAPPABLE = frozenset({"init", "activation", "dataset", "model", "trainer"})


class SweepComposer:
    def __init__(self, loader, master_config: DictConfig) -> None:
        from hydra.core.override_parser.overrides_parser import OverridesParser

        self.loader = loader
        self.master = master_config
        self.parser = OverridesParser.create()
        self.templates: dict[tuple, DictConfig] = {}
        self.hydra_calls = 0  # how many jobs Hydra composed (the others were copies)

    def _is_group(self, key: str) -> bool:
        return self.loader.repository.group_exists(key)

    def compose(self, overrides: Sequence[str]) -> DictConfig:
        from hydra.core.override_parser.types import OverrideType

        parsed = self.parser.parse_overrides(list(overrides))
        plain = all(
            o.type == OverrideType.CHANGE and not o.is_sweep_override() and o.package is None
            for o in parsed
        )
        if not plain:
            return self._hydra(overrides)
        groups = tuple(o.input_line for o in parsed if self._is_group(o.key_or_group))
        values = [o for o in parsed if not self._is_group(o.key_or_group)]
        value_keys = tuple(o.key_or_group for o in values)
        key = (groups, value_keys)
        template = self.templates.get(key)
        if template is None:
            template = self._swapped(groups, value_keys)
            if template is None:
                composed = self._hydra(overrides)
                self.templates[key] = copy.deepcopy(composed)
                return composed
            self.templates[key] = template
        return self._from_template(template, parsed, values)

    def _swapped(self, groups: tuple[str, ...], value_keys: tuple) -> DictConfig | None:
        """A composition for these group choices built from two others: one that differs in
        one self-contained group only, and one that has that group's wanted option. None when
        no such pair is known (Hydra composes it then)."""
        wanted = dict(line.split("=", 1) for line in groups)
        if any(g not in SWAPPABLE for g in wanted):
            return None
        known = [
            (dict(line.split("=", 1) for line in other_groups), cfg)
            for (other_groups, keys), cfg in self.templates.items()
            if keys == value_keys
        ]
        for choices, base in known:
            if choices.keys() != wanted.keys():
                continue
            differ = [g for g in wanted if choices[g] != wanted[g]]
            if len(differ) != 1:
                continue
            group = differ[0]
            donor = next((c for ch, c in known if ch.get(group) == wanted[group]), None)
            if donor is None:
                continue
            cfg = copy.deepcopy(base)
            with open_dict(cfg), read_write(cfg):
                cfg[group] = copy.deepcopy(donor[group])
                cfg.hydra.runtime.choices[group] = wanted[group]
            return cfg
        return None

    def _hydra(self, overrides: Sequence[str]) -> DictConfig:
        self.hydra_calls += 1
        return self.loader.load_sweep_config(self.master, list(overrides))

    def _from_template(self, template: DictConfig, parsed, values) -> DictConfig:
        from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname

        cfg = copy.deepcopy(template)
        ConfigLoaderImpl._apply_overrides_to_config(values, cfg)
        job = cfg.hydra.job
        task = [o for o in parsed if not o.is_hydra_override()]  # (hydra ones: in the key)
        cfg.hydra.overrides.task = [o.input_line for o in task]
        job.override_dirname = get_overrides_dirname(
            overrides=task,
            kv_sep=job.config.override_dirname.kv_sep,
            item_sep=job.config.override_dirname.item_sep,
            exclude_keys=job.config.override_dirname.exclude_keys,
        )
        OmegaConf.copy_cache(from_config=self.master, to_config=cfg)
        return cfg
