"""A seeded synthetic three-stage pipeline with a spurious feature (lesson 06 and lab 6).

Every example has ``n_core`` core features that carry a moderate signal about the label in every group,
and one *spurious* feature: for the majority group (``group == 0``) it points to the label, for the
minority group (``group == 1``) it points the other way. Pretraining sees both groups equally often (the
spurious feature is useless there), fine-tuning is dominated by the majority group (the spurious feature
becomes a shortcut), and alignment is a small group-balanced set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ethicskit._validation import (
    as_1d_array,
    check_consistent_length,
    check_int,
    check_no_nan,
    check_positive,
    check_positive_int,
    check_probability,
    check_random_state,
)
from ethicskit.attribution.recorder import Stage

__all__ = ["Split", "SpuriousData", "make_spurious_data", "make_pipeline_stages", "make_mlp",
           "group_balanced_weights", "group_accuracy"]


@dataclass
class Split:
    """One data split: inputs ``X`` (float32), labels ``y`` (0/1) and ``group`` (0 majority, 1 minority)."""

    X: np.ndarray
    y: np.ndarray
    group: np.ndarray

    def __post_init__(self) -> None:
        # group_accuracy pairs y[i] with group[i]: a length mismatch would pair the wrong rows
        X = np.asarray(self.X)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-d (n_samples, n_features), got shape {X.shape}")
        check_consistent_length(X=X, y=self.y, group=self.group)

    def __len__(self) -> int:
        return len(self.y)


@dataclass
class SpuriousData:
    """The four splits of the synthetic pipeline and the feature names."""

    pretrain: Split
    finetune: Split
    align: Split
    test: Split
    feature_names: list[str]


def _split(n: int, minority_fraction: float, n_core: int, core_signal: float, spurious_signal: float,
           rng: np.random.Generator) -> Split:
    y = rng.integers(0, 2, n)
    group = (rng.random(n) < minority_fraction).astype(int)
    sign = 2 * y - 1
    core = core_signal * sign[:, None] + rng.normal(size=(n, n_core))
    spurious = spurious_signal * sign * np.where(group == 1, -1, 1) + 0.5 * rng.normal(size=n)
    X = np.column_stack([core, spurious]).astype(np.float32)
    return Split(X=X, y=y.astype(int), group=group)


#: Most rows (or core features) one split of :func:`make_spurious_data` may have.
MAX_ROWS = 10_000_000


def make_spurious_data(*, n_pretrain: int = 2000, n_finetune: int = 2000, n_align: int = 200,
                       n_test: int = 1000, finetune_minority: float = 0.05, n_core: int = 5,
                       core_signal: float = 0.4, spurious_signal: float = 1.5,
                       random_state: int | np.random.Generator | None = 0) -> SpuriousData:
    """Generate the pretraining, fine-tuning, alignment and test splits.

    Parameters
    ----------
    n_pretrain, n_finetune, n_align, n_test : int
        Split sizes. Pretraining, alignment and test are group-balanced (half minority).
    finetune_minority : float
        Share of the minority group in the fine-tuning data (default 5%).
    n_core : int
        Number of core features.
    core_signal, spurious_signal : float
        Mean shift of each core feature and of the spurious feature between the classes.
    random_state : int, Generator or None
        Seed; the same seed gives the same data.

    Returns
    -------
    SpuriousData

    Examples
    --------
    >>> data = make_spurious_data(random_state=0)
    >>> bool(data.finetune.group.mean() < 0.1), bool(data.test.group.mean() > 0.4)
    (True, True)
    """
    rng = check_random_state(random_state)
    for name, value in (("n_pretrain", n_pretrain), ("n_finetune", n_finetune), ("n_align", n_align),
                        ("n_test", n_test), ("n_core", n_core)):
        check_positive_int(value, name)
        if value > MAX_ROWS:  # 10**10 rows would exhaust memory before failing
            raise ValueError(f"{name} must be at most {MAX_ROWS:,}, got {value:,}")
    check_probability(finetune_minority, "finetune_minority")
    check_positive(core_signal, "core_signal", allow_zero=True)
    check_positive(spurious_signal, "spurious_signal", allow_zero=True)
    args = (n_core, core_signal, spurious_signal, rng)
    return SpuriousData(
        pretrain=_split(n_pretrain, 0.5, *args),
        finetune=_split(n_finetune, finetune_minority, *args),
        align=_split(n_align, 0.5, *args),
        test=_split(n_test, 0.5, *args),
        feature_names=[f"core_{i}" for i in range(n_core)] + ["spurious"],
    )


def group_balanced_weights(group: Any) -> np.ndarray:
    """Weights that give every group the same total weight (mean weight 1)."""
    g = check_no_nan(as_1d_array(group, "group"), "group")
    values, inverse, counts = np.unique(g, return_inverse=True, return_counts=True)
    weights = len(g) / (len(values) * counts[inverse])
    return weights.astype(float)


def make_mlp(n_features: int, *, hidden: int = 16, n_outputs: int = 2, random_state: int = 0):
    """A small tanh MLP (deterministic initialisation from ``random_state``)."""
    import torch

    for name, value in (("n_features", n_features), ("hidden", hidden), ("n_outputs", n_outputs)):
        check_int(value, name, minimum=1)
    check_int(random_state, "random_state", minimum=0)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(random_state)
    try:
        model = torch.nn.Sequential(torch.nn.Linear(n_features, hidden), torch.nn.Tanh(),
                                    torch.nn.Linear(hidden, n_outputs))
    finally:
        torch.random.set_rng_state(generator_state)
    return model


def make_pipeline_stages(data: SpuriousData, *, pretrain_lr: float = 0.1, finetune_lr: float = 0.1,
                         align_lr: float = 0.02, momentum: float = 0.9, weight_decay: float = 1e-3,
                         epochs: tuple[int, int, int] = (2, 2, 2), batch_size: int = 32,
                         reweight_finetune: bool = False) -> list:
    """The three :class:`~ethicskit.attribution.Stage` objects of the lesson's pipeline.

    ``reweight_finetune=True`` redoes fine-tuning with group-balanced sample weights (the intervention).
    The fine-tuning learning rate decays linearly to 10% of ``finetune_lr`` (a schedule to account for).
    """
    n_ft = epochs[1] * -(-len(data.finetune) // batch_size)
    ft_schedule = [finetune_lr * (1 - 0.9 * t / max(n_ft - 1, 1)) for t in range(n_ft)]
    weights = group_balanced_weights(data.finetune.group) if reweight_finetune else None
    common = {"batch_size": batch_size, "momentum": momentum, "weight_decay": weight_decay}
    return [
        Stage("pretraining", data.pretrain.X, data.pretrain.y, epochs=epochs[0], lr=pretrain_lr, **common),
        Stage("fine-tuning", data.finetune.X, data.finetune.y, sample_weight=weights, epochs=epochs[1],
              lr=ft_schedule, **common),
        Stage("alignment", data.align.X, data.align.y, epochs=epochs[2], lr=align_lr, **common),
    ]


def group_accuracy(model: Any, split: Split) -> dict[int, float]:
    """Accuracy of ``model`` on each group of ``split`` (``{0: majority, 1: minority}``)."""
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(split, Split):
        raise TypeError(f"split must be a Split, got {type(split).__name__}")

    with torch.no_grad():
        pred = model(torch.as_tensor(split.X)).argmax(dim=1).numpy()
    return {int(g): float(np.mean(pred[split.group == g] == split.y[split.group == g]))
            for g in np.unique(split.group)}
