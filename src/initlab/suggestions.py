""" "Did you mean ...?" for a command line that failed: a mistyped group option or key.

Called only after Hydra (or the checks before a sweep) refused the command, so it never
stands in the way of a valid one; it reads conf/ and the schemas, nothing else.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Sequence

from initlab.config import (
    CONF_DIR,
    GROUP_OPTIONS,
    MENU_GROUPS,
    OPTIONAL_GROUPS,
    Config,
    TrackingConfig,
)


def _options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def known_keys() -> set[str]:
    """Every key a command line may set: each group option's fields and the top level's."""
    keys = {f.name for f in dataclasses.fields(Config)} - set(GROUP_OPTIONS) - {"tracking"}
    keys |= {f"tracking.{f.name}" for f in dataclasses.fields(TrackingConfig)}
    for group, options in GROUP_OPTIONS.items():
        for node in options.values():
            keys |= {f"{group}.{f.name}" for f in dataclasses.fields(node)}
    return keys


def _close(word: str, candidates: Iterable[str]) -> str | None:
    found = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return found[0] if found else None


def option_hint(choice: str, options: Sequence[str]) -> str:
    """' did you mean <option>?' for a mistyped group option, or ''."""
    guess = _close(choice, options)
    return f" did you mean {guess}?" if guess else ""


def key_hint(key: str, keys: set[str] | None = None) -> str:
    """' (did you mean ...?)' for an unknown key, or ''. ``trainer.momentum`` names an option,
    not a key: the hint is ``trainer=momentum``."""
    group, _, rest = key.partition(".")
    if group in MENU_GROUPS and rest in _options(group):
        return f" (did you mean {group}={rest}?)"
    guess = _close(key, keys if keys is not None else known_keys())
    return f" (did you mean {guess}?)" if guess else ""


def suggestions(argv: Sequence[str]) -> list[str]:
    """One line per argument that names an option or key initlab does not have, with the
    closest one it does (if any is close)."""
    lines = []
    keys = known_keys()
    for arg in argv:
        if arg.startswith("-") or "=" not in arg:
            continue
        key, _, value = arg.partition("=")
        if key.startswith(("+", "~", "hydra")) or "@" in key or "/" in key:
            continue  # (a key added with + is refused with its own hint, by to_settings)
        if key in OPTIONAL_GROUPS:
            continue  # refused by config.check_choices, with its own hint
        if key in MENU_GROUPS:
            options = _options(key)
            for choice in value.split(","):
                choice = choice.strip()
                if choice and choice not in options:
                    guess = _close(choice, options)
                    hint = f"did you mean {key}={guess}? " if guess else ""
                    lines.append(f"{key}={choice}: no such option; {hint}({', '.join(options)})")
        elif key not in keys:
            hint = key_hint(key, keys)
            if hint:
                lines.append(f"{key}: no such key{hint}")
    return lines
