"""Measure how long ``import ethicskit`` takes in a fresh interpreter (target: under 0.3 s).

Run: ``python benchmarks/bench_import.py``. Prints the median of several cold imports, and which
heavy libraries (if any) the import pulled in.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

TARGET_SECONDS = 0.3
MODULES = ["ethicskit", "ethicskit.datasets", "ethicskit.checks"]
CODE = """
import sys, time
start = time.perf_counter()
import {module}
elapsed = time.perf_counter() - start
heavy = [m for m in ("torch", "transformers", "shap", "lime", "opacus") if m in sys.modules]
print(elapsed, ",".join(heavy))
"""


def time_import(module: str, repeats: int = 7) -> tuple[float, str]:
    """Median seconds to import ``module`` in a new interpreter, and the heavy modules it loaded."""
    times, heavy = [], ""
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", CODE.format(module=module)], capture_output=True,
                             text=True, check=True).stdout.split()
        times.append(float(out[0]))
        heavy = out[1] if len(out) > 1 else ""
    return statistics.median(times), heavy


def main() -> None:
    print(f"{'module':<24}{'median import (s)':>20}{'target (s)':>12}  heavy modules loaded")
    for module in MODULES:
        seconds, heavy = time_import(module)
        print(f"{module:<24}{seconds:>20.3f}{TARGET_SECONDS:>12.1f}  {heavy or '-'}")


if __name__ == "__main__":
    main()
