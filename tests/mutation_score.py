"""`make mutation`'s summary, from mutmut's results in mutants/: per module, the mutants
killed out of all, and every survivor that docs/mutation.md does not explain as equivalent.

    python tests/mutation_score.py
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "mutants" / "src" / "initlab"
EXPLAINED = ROOT / "docs" / "mutation.md"
# mutmut's exit codes: a failing test (1, 3), a timeout (SIGXCPU...) or a crash of the tests
# (SIGSEGV, SIGKILL: a compiled kernel handed a wrong argument) kills a mutant.
KILLED = {1, 3, 24, -24, 36, 152, 255, -11, -9}
NO_TESTS = {5, 33}


def explained_names() -> tuple[set[str], set[str]]:
    """(the survivors docs/mutation.md explains, those of them it judges equivalent): the
    backquoted names in the whole page and in its section "Equivalent mutants"."""
    text = EXPLAINED.read_text(encoding="utf-8")
    section = text.split("\n## Equivalent mutants", 1)[-1].split("\n## ", 1)[0]
    names = r"`(initlab\.\S+__mutmut_\d+)`"
    return set(re.findall(names, text)), set(re.findall(names, section))


def main() -> int:
    metas = sorted(RESULTS.glob("*.py.meta"))
    if not metas:
        print("no mutmut results in mutants/: run `make mutation`")
        return 1
    explained, equivalent = explained_names()
    unexplained: list[tuple[str, str]] = []
    header = ("module", "killed", "total", "score", "survived", "no tests", "equivalent", "unrun")
    print("{:<14}{:>8}{:>7}{:>8}{:>10}{:>10}{:>12}{:>7}".format(*header))
    for meta in metas:
        codes = json.loads(meta.read_text(encoding="utf-8"))["exit_code_by_key"]
        count: Counter[str] = Counter()
        for name, code in codes.items():
            if code in KILLED:
                count["killed"] += 1
                continue
            if code is None:
                count["unrun"] += 1
                continue
            status = "survived" if code == 0 else "no tests" if code in NO_TESTS else f"exit {code}"
            count[status] += 1
            if name in equivalent:
                count["equivalent"] += 1
            elif name not in explained:
                unexplained.append((name, status))
        total = len(codes)
        score = 100.0 * count["killed"] / total if total else 100.0
        module = meta.name.removesuffix(".py.meta")
        print(
            f"{module:<14}{count['killed']:>8}{total:>7}{score:>7.1f}%{count['survived']:>10}"
            f"{count['no tests']:>10}{count['equivalent']:>12}{count['unrun']:>7}"
        )
    print(f"\nsurvivors judged equivalent, and the others explained: {EXPLAINED.relative_to(ROOT)}")
    if unexplained:
        print(f"survivors it does not explain ({len(unexplained)}); `mutmut show NAME` shows one:")
        for name, status in unexplained:
            print(f"  {name}: {status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
