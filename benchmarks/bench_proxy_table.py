"""False-positive rate of lab4's proxy-table check on honest tables (issue 16, item 3).

An honest ``proxy_table`` is ``explain.proxy_analysis(model, X_test.iloc[:2000], sex_test.iloc[:2000],
n_repeats=r, random_state=s)`` for any ``r`` and ``s`` the student picks; the check compares each
``gap_drop`` with 20 fresh shuffles (``PROXY_SD_BOUND`` standard deviations of one shuffle). This prints
how many honest variants it refuses, and the largest deviation seen, in units of that bound.

    .venv/bin/python benchmarks/bench_proxy_table.py [N_SEEDS]
"""

from __future__ import annotations

import sys

from ethicskit import explain
from ethicskit.checks import explain as checks
from ethicskit.checks.core import CheckFailed


def main(n_seeds: int = 10) -> None:
    lab = checks.lab4_setup()
    X, sex = lab.X_test.iloc[: checks.PROXY_ROWS], lab.sex_test.iloc[: checks.PROXY_ROWS]
    _, _, drops = checks._proxy_reference()
    centre, spread = drops.mean(), drops.std(ddof=1)
    refused, worst, total = 0, 0.0, 0
    for n_repeats in (1, 2, 3, 5, 10):
        for seed in range(1000, 1000 + n_seeds):
            table = explain.proxy_analysis(lab.model, X, sex, n_repeats=n_repeats, random_state=seed,
                                           show_progress=False)
            z = ((table["gap_drop"] - centre[table.index]).abs() / spread[table.index]).max()
            worst = max(worst, float(z) / checks.PROXY_SD_BOUND)
            total += 1
            try:
                checks.check_proxy_table(table)
            except CheckFailed:
                refused += 1
    print(f"honest tables: {total}, refused: {refused} ({refused / total:.1%}); "
          f"largest deviation {worst:.2f} of the bound ({checks.PROXY_SD_BOUND} SD of one shuffle)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10)
