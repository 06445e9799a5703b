"""The environmental cost of a training run: energy, CO2, parameters and training FLOPs.

Energy comes from codecarbon's *offline* tracker (no network; the grid's carbon intensity comes from
codecarbon's bundled table for the given country). On machines where codecarbon cannot read power
counters (no RAPL permission, containers) it estimates from the CPU's TDP itself; if the tracker fails
altogether or reports nothing, :class:`EnergyMeter` falls back to a documented estimate:

``energy = duration * FALLBACK_CPU_TDP_W * threads / logical_cores + duration * FALLBACK_RAM_W``

and ``CO2 = energy * carbon intensity of the country`` (codecarbon's table, or the world average
:data:`WORLD_CARBON_INTENSITY` g/kWh when the country is unknown). The report says which method was used.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ethicskit._validation import check_bool, check_int

__all__ = [
    "EnergyReport",
    "EnergyMeter",
    "training_flops",
    "cost_table",
    "FALLBACK_CPU_TDP_W",
    "FALLBACK_RAM_W",
    "WORLD_CARBON_INTENSITY",
]

#: Power assumed for one fully busy CPU package in the fallback estimate (watts).
FALLBACK_CPU_TDP_W = 65.0
#: Power assumed for memory in the fallback estimate (watts).
FALLBACK_RAM_W = 3.0
#: World-average grid carbon intensity used when a country is unknown (g CO2 per kWh, Ember 2023).
WORLD_CARBON_INTENSITY = 481.0


@dataclass
class EnergyReport:
    """Energy and emissions of one measured block of work."""

    duration_s: float
    energy_kwh: float
    co2_kg: float
    country_iso_code: str
    method: str  # "codecarbon" or "tdp-estimate"
    counters: bool = False  # the CPU's energy came from its hardware counters (RAPL...), not its rated power

    def as_dict(self) -> dict:
        """The report as a plain dict (for tables)."""
        return asdict(self)


def _carbon_intensity(country_iso_code: str) -> float:
    """g CO2/kWh for a country from codecarbon's bundled table, or the world average."""
    try:
        import codecarbon

        table = Path(codecarbon.__file__).parent / "data" / "private_infra" / "global_energy_mix.json"
        entry = json.loads(table.read_text()).get(country_iso_code.upper())
        if entry and entry.get("carbon_intensity"):
            return float(entry["carbon_intensity"])
    except Exception:  # noqa: BLE001 - any failure means: use the documented default
        pass
    return WORLD_CARBON_INTENSITY


def _known_country(code: str) -> bool:
    """Whether codecarbon's bundled table knows ``code`` (True when the table cannot be read)."""
    try:  # find the table without importing codecarbon (slow, and noisy at import)
        import importlib.util

        origin = importlib.util.find_spec("codecarbon").origin
        table = Path(origin).parent / "data" / "private_infra" / "global_energy_mix.json"
        return code.upper() in json.loads(table.read_text())
    except Exception:  # noqa: BLE001 - without the table the world average applies; do not refuse
        return True


class EnergyMeter:
    """Context manager measuring the energy and CO2 of the code inside it.

    Parameters
    ----------
    country_iso_code : str
        Three-letter ISO code of the country whose electricity mix applies (``"FRA"``, ``"USA"``...).
    use_codecarbon : bool
        Use codecarbon's offline tracker (default). False forces the TDP estimate.
    threads : int, optional
        CPU threads the work uses (for the fallback estimate); default all logical cores.

    Examples
    --------
    >>> with EnergyMeter(country_iso_code="FRA", use_codecarbon=False) as meter:
    ...     _ = sum(range(1000))
    >>> meter.report.method
    'tdp-estimate'
    """

    def __init__(
        self, *, country_iso_code: str = "USA", use_codecarbon: bool = True, threads: int | None = None
    ):
        if (
            not isinstance(country_iso_code, str)
            or len(country_iso_code) != 3
            or not country_iso_code.isalpha()
        ):
            raise ValueError(
                f"country_iso_code must be a three-letter ISO code like 'FRA', got {country_iso_code!r}"
            )
        if not _known_country(country_iso_code):
            raise ValueError(
                f"country_iso_code {country_iso_code!r} is not a country in codecarbon's energy-mix table; "
                "use an ISO 3166 alpha-3 code such as 'FRA', 'USA' or 'IND'"
            )
        self.country_iso_code = country_iso_code.upper()
        self.use_codecarbon = check_bool(use_codecarbon, "use_codecarbon")
        self.threads = None if threads is None else check_int(threads, "threads", minimum=1)
        self.report: EnergyReport | None = None
        self._tracker = None
        self._start = 0.0

    def __enter__(self) -> EnergyMeter:
        if self.use_codecarbon:
            self._tracker = self._start_tracker()
        self._start = time.perf_counter()
        return self

    def _start_tracker(self):
        logging.getLogger("codecarbon").setLevel(logging.ERROR)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from codecarbon import OfflineEmissionsTracker

                tracker = OfflineEmissionsTracker(
                    country_iso_code=self.country_iso_code,
                    log_level="error",
                    save_to_file=False,
                    measure_power_secs=5,
                    allow_multiple_runs=True,
                )
                tracker.start()
            return tracker
        except Exception:  # noqa: BLE001 - no tracker: the TDP estimate takes over
            return None

    def __exit__(self, *exc_info) -> None:
        duration = time.perf_counter() - self._start
        energy = co2 = None
        if self._tracker is not None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    co2 = self._tracker.stop()
                    energy = float(self._tracker.final_emissions_data.energy_consumed)
            except Exception:  # noqa: BLE001
                energy = co2 = None
        if energy and co2 is not None and energy > 0:
            self.report = EnergyReport(
                duration,
                energy,
                float(co2),
                self.country_iso_code,
                "codecarbon",
                _read_counters(self._tracker),
            )
        else:
            self.report = self._estimate(duration)

    def _estimate(self, duration: float) -> EnergyReport:
        cores = os.cpu_count() or 1
        threads = min(self.threads or cores, cores)
        watts = FALLBACK_CPU_TDP_W * threads / cores + FALLBACK_RAM_W
        energy = duration * watts / 3.6e6
        co2 = energy * _carbon_intensity(self.country_iso_code) / 1000.0
        return EnergyReport(duration, energy, co2, self.country_iso_code, "tdp-estimate")


_COUNTER_MODES = {"intel_rapl", "intel_power_gadget", "windows_emi", "apple_powermetrics"}


def _read_counters(tracker: Any) -> bool:
    """Whether codecarbon read the CPU's energy counters; without them it estimates from rated power."""
    for device in getattr(tracker, "_hardware", None) or []:
        if type(device).__name__ == "CPU" and getattr(device, "_mode", None) in _COUNTER_MODES:
            return True
    return False


def training_flops(*, total_params: int, trainable_params: int, tokens: int) -> float:
    """Estimate the floating-point operations of training on ``tokens`` tokens.

    Uses the standard approximation (Kaplan et al. 2020): a forward pass costs about 2 FLOPs per
    parameter per token and a full backward pass 4; when only the top layers train, the backward pass
    stops at them, so it is counted for the trainable parameters only:
    ``2 * total_params * tokens + 4 * trainable_params * tokens``.
    Attention's quadratic term is ignored (small for sequences of ~50 tokens).
    """
    for name, value in (
        ("total_params", total_params),
        ("trainable_params", trainable_params),
        ("tokens", tokens),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    if trainable_params > total_params:
        raise ValueError(f"trainable_params ({trainable_params}) cannot exceed total_params ({total_params})")
    return float(2 * total_params * tokens + 4 * trainable_params * tokens)


def cost_table(models: dict[str, Any], texts: Any, labels: Any, sensitive_features: Any) -> Any:
    """Quality, fairness and training cost of several fine-tuned classifiers, one row each.

    Parameters
    ----------
    models : dict of name -> TextClassifier
        Each trained with ``track_energy=True`` (its last stage's energy report is used).
    texts, labels, sensitive_features
        The evaluation data, as for :func:`ethicskit.sft.evaluate`.

    Returns
    -------
    pandas.DataFrame
        Columns ``overall_auc``, ``worst_bpsn_auc``, ``params_M``, ``trainable_M``, ``train_TFLOPs``,
        ``seconds``, ``energy_Wh``, ``co2_g`` and ``method`` ("codecarbon" measured, "tdp-estimate"
        estimated).
    """
    import pandas as pd

    from ethicskit.sft.metrics import evaluate

    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict of name -> trained TextClassifier")
    rows = {}
    for name, model in models.items():
        stage = (getattr(model, "stages_", None) or [None])[-1]
        energy = stage.get("energy") if stage else None
        if energy is None:
            raise ValueError(f"models[{name!r}] has no energy report: train it with track_energy=True")
        result = evaluate(model, texts, labels, sensitive_features)
        rows[name] = {
            "overall_auc": result.overall_auc,
            "worst_bpsn_auc": result.worst_bpsn_auc,
            "params_M": stage["total_params"] / 1e6,
            "trainable_M": stage["trainable_params"] / 1e6,
            "train_TFLOPs": stage["train_flops"] / 1e12,
            "seconds": stage["seconds"],
            "energy_Wh": energy.energy_kwh * 1000,
            "co2_g": energy.co2_kg * 1000,
            "method": energy.method,
        }
    return pd.DataFrame(rows).T
