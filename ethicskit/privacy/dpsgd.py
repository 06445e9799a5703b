"""DP-SGD: train a small PyTorch classifier with opacus and report its (epsilon, delta) guarantee.

DP-SGD clips each example's gradient to ``max_grad_norm`` and adds Gaussian noise to every batch
update, so no single training record can move the model much; opacus' accountant turns the noise
level, the sampling rate and the number of steps into an epsilon at a given delta.

:class:`DPSGDClassifier` follows scikit-learn's estimator API (parameters in ``__init__``, ``fit``,
``predict_proba``, fitted attributes ending in ``_``) and accepts a DataFrame directly: numeric columns
are standardised and the others one-hot encoded by :class:`TabularEncoder`.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ethicskit._progress import progress
from ethicskit._validation import (
    Interval,
    check_binary,
    check_consistent_length,
    check_int,
    check_param,
    check_positive,
    check_positive_int,
    check_probability,
)

__all__ = ["DPSGDClassifier", "TabularEncoder", "epsilon_from_history"]

MAX_NOISE_MULTIPLIER = 100.0  # beyond this much noise a model learns nothing useful


class TabularEncoder(TransformerMixin, BaseEstimator):
    """Standardise numeric columns and one-hot encode the others.

    By default ``fit`` learns the means, scales and category lists from the data it is given. Fitted on
    private rows, those statistics are released without noise, so a DP-SGD epsilon does not cover them.
    Give ``numeric_ranges`` and ``categories`` from **public** knowledge (a codebook, published ranges)
    instead and ``fit`` learns nothing from the data: numeric values are clipped to their range and
    centred and scaled by it, and only the listed categories are encoded.

    Parameters
    ----------
    numeric_ranges : dict, optional
        ``{column: (low, high)}`` for every numeric column (a public encoder).
    categories : dict, optional
        ``{column: [category, ...]}`` for every other column (a public encoder).

    Examples
    --------
    >>> public = TabularEncoder(numeric_ranges={"age": (17, 90)}, categories={"sex": ["Female", "Male"]})
    >>> people = pd.DataFrame({"age": [17, 53.5, 120], "sex": ["Male", "Female", "Male"]})
    >>> public.fit_transform(people).tolist()
    [[-1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 1.0]]
    """

    def __init__(self, *, numeric_ranges: dict | None = None, categories: dict | None = None):
        self.numeric_ranges = numeric_ranges
        self.categories = categories

    @property
    def public(self) -> bool:
        """Whether the encoding comes from the given ranges and categories, not from the data."""
        return self.numeric_ranges is not None or self.categories is not None

    def _fit_public(self, frame: pd.DataFrame) -> TabularEncoder:
        ranges, categories = dict(self.numeric_ranges or {}), dict(self.categories or {})
        unknown = [c for c in frame.columns if c not in ranges and c not in categories]
        if unknown:
            raise ValueError(
                f"a public TabularEncoder needs a range or a category list for every column; X column(s) "
                f"{unknown} have neither (numeric_ranges={sorted(ranges)}, categories={sorted(categories)})"
            )
        for column, bounds in ranges.items():
            low, high = (float(b) for b in bounds)
            if not (np.isfinite(low) and np.isfinite(high) and low < high):
                raise ValueError(
                    f"numeric_ranges[{column!r}] must be (low, high) with low < high, got {bounds!r}"
                )
        self.columns_ = list(frame.columns)
        self.numeric_ = [c for c in frame.columns if c in ranges]
        _check_numeric(frame, self.numeric_)
        self.ranges_ = {c: tuple(float(b) for b in ranges[c]) for c in self.numeric_}
        self.means_ = pd.Series({c: (lo + hi) / 2 for c, (lo, hi) in self.ranges_.items()}, dtype=float)
        self.scales_ = pd.Series({c: (hi - lo) / 2 for c, (lo, hi) in self.ranges_.items()}, dtype=float)
        self.categories_ = {c: [str(v) for v in categories[c]] for c in self.columns_ if c not in ranges}
        return self

    def fit(self, X: pd.DataFrame, y: Any = None) -> TabularEncoder:
        """Learn means, scales and categories from ``X`` (or, for a public encoder, only its columns)."""
        frame = _as_frame(X, "X")
        self.ranges_ = {}
        self.n_features_in_ = frame.shape[1]
        if self.public:
            return self._fit_public(frame)
        self.columns_ = list(frame.columns)
        self.numeric_ = [
            c
            for c in frame.columns
            if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        ]
        _check_numeric(frame, self.numeric_)
        empty = [c for c in self.numeric_ if frame[c].isna().all()]
        if empty:  # its mean is NaN: the column would be silently zero-filled
            raise ValueError(f"X column(s) {empty} hold no values at all (all NaN); drop them first")
        self.means_ = frame[self.numeric_].astype(float).mean()
        self.scales_ = frame[self.numeric_].astype(float).std(ddof=0).replace(0.0, 1.0).fillna(1.0)
        self.categories_ = {
            c: sorted(frame[c].dropna().astype(str).unique().tolist())
            for c in self.columns_
            if c not in self.numeric_
        }
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Return a float32 matrix; unseen categories encode as all zeros."""
        check_is_fitted(self, "columns_")
        frame = _as_frame(X, "X")
        if not isinstance(X, pd.DataFrame) and frame.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {frame.shape[1]} features, but TabularEncoder is expecting {self.n_features_in_} "
                "features as input"
            )
        missing = [c for c in self.columns_ if c not in frame.columns]
        if missing:
            raise ValueError(f"X lacks the column(s) {missing} seen in fit")
        _check_numeric(frame, self.numeric_)
        numbers = frame[self.numeric_].astype(float)
        for column, (low, high) in getattr(self, "ranges_", {}).items():
            numbers[column] = numbers[column].clip(low, high)
        parts = [((numbers - self.means_) / self.scales_).fillna(0.0).to_numpy()]
        for column, categories in self.categories_.items():
            values = frame[column].astype(str).to_numpy()
            parts.append((values[:, None] == np.asarray(categories, dtype=object)[None, :]).astype(float))
        return np.hstack(parts).astype(np.float32)

    def fit_transform(self, X: pd.DataFrame, y: Any = None) -> np.ndarray:
        """``fit`` then ``transform``."""
        return self.fit(X).transform(X)


def _check_numeric(frame: pd.DataFrame, columns: list[str]) -> None:
    """Refuse +/-inf: it standardises to NaN and trains a model that predicts NaN."""
    values = frame[columns].to_numpy(dtype=float)
    if np.isinf(values).any():
        bad = [c for c in columns if np.isinf(frame[c].to_numpy(dtype=float)).any()]
        raise ValueError(f"X column(s) {bad} contain inf; replace or drop those values first")


def _as_frame(X: Any, name: str) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    array = np.asarray(X)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-d table (DataFrame or array), got shape {array.shape}")
    return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])


def epsilon_from_history(history: list[tuple[float, float, float]], *, delta: float) -> float:
    """Recompute the epsilon of a DP-SGD run from its ``[(noise_multiplier, sample_rate, steps)]`` record.

    Uses opacus' RDP accountant, as :class:`DPSGDClassifier` does; ``inf`` for an empty record.
    """
    from opacus.accountants import RDPAccountant

    check_probability(delta, "delta", open_interval=True)
    if not isinstance(history, (list, tuple)):
        raise TypeError(
            f"history must be a list of (noise_multiplier, sample_rate, steps), got {type(history).__name__}"
        )
    if not history:
        return float("inf")
    accountant = RDPAccountant()
    accountant.history = [_history_step(step, i) for i, step in enumerate(history)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(accountant.get_epsilon(delta))


def _history_step(step: Any, index: int) -> tuple[float, float, int]:
    """One accountant record, checked: a negative step count would "refund" privacy (epsilon < 0)."""
    if not isinstance(step, (list, tuple)) or len(step) != 3:
        raise ValueError(
            f"history[{index}] must be a (noise_multiplier, sample_rate, steps) triple, got {step!r}"
        )
    sigma, rate, steps = step
    sigma = check_positive(sigma, f"history[{index}] noise_multiplier")
    rate = check_param(rate, f"history[{index}] sample_rate", [Interval("real", 0, 1, closed="right")])
    return sigma, float(rate), check_int(steps, f"history[{index}] steps", minimum=0)


@contextmanager
def _one_torch_thread() -> Iterator[None]:
    """Train on one torch thread, then restore the count.

    The networks here are tiny (a linear layer or one small hidden layer on tabular features), so a
    second thread saves nothing, while OpenMP's spinning waits beside other work cost a lot: lesson 04's
    non-private fit took 90.7 s and 143.5 s with torch's default 2 threads at load average 3-5, and
    4.3 s and 5.4 s on one thread.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class DPSGDClassifier(ClassifierMixin, BaseEstimator):
    """A logistic regression (or tiny MLP) trained with DP-SGD through opacus.

    Parameters
    ----------
    epsilon : float or None
        Target epsilon; opacus picks the noise multiplier that reaches it after ``epochs``. ``None``
        trains without privacy (plain SGD, same model), for comparison.
    delta : float
        Target delta; keep it well below ``1 / n_train``.
    noise_multiplier : float, optional
        Use this noise level instead of a target epsilon (``epsilon`` is then ignored and reported).
    epochs, batch_size : int
        Passes over the data and expected batch size (opacus samples batches by Poisson sampling).
    max_grad_norm : float
        Per-example gradient clipping bound.
    learning_rate : float
        SGD step size.
    hidden_units : int
        0 for a logistic regression, else the width of one hidden ReLU layer.
    random_state : int
        Seed for initialisation, sampling and noise.
    encoder : TabularEncoder, optional
        How features are encoded. By default a :class:`TabularEncoder` learns means, scales and category
        lists from the training rows, **outside** the DP mechanism: ``epsilon_`` then covers the training
        steps only. Pass a public encoder (``TabularEncoder(numeric_ranges=..., categories=...)``) to make
        the whole fitted pipeline (epsilon_, delta)-DP.

    Attributes
    ----------
    epsilon_ : float
        Epsilon spent at ``delta`` (``inf`` without privacy).
    noise_multiplier_ : float
        Noise standard deviation relative to ``max_grad_norm`` (0 without privacy).
    privacy_history_ : list of tuple or None
        The accountant's record ``[(noise_multiplier, sample_rate, steps), ...]`` from which anyone can
        recompute epsilon (:func:`epsilon_from_history`); ``None`` without privacy.
    model_ : torch.nn.Module
        The trained network (plain module, picklable).
    encoder_ : TabularEncoder
        The fitted encoder (a copy of ``encoder`` when one was given).
    classes_ : ndarray
        ``[0, 1]``.
    end_to_end_ : bool
        True when ``epsilon_`` covers everything learnt from the training rows: DP training with a public
        encoder. False when the encoder was fitted on the training rows (or without privacy).
    """

    def __init__(
        self,
        *,
        epsilon: float | None = 1.0,
        delta: float = 1e-5,
        noise_multiplier: float | None = None,
        epochs: int = 5,
        batch_size: int = 256,
        max_grad_norm: float = 1.0,
        learning_rate: float = 0.5,
        hidden_units: int = 0,
        random_state: int = 0,
        encoder: TabularEncoder | None = None,
    ):
        self.epsilon = epsilon
        self.delta = delta
        self.noise_multiplier = noise_multiplier
        self.epochs = epochs
        self.batch_size = batch_size
        self.max_grad_norm = max_grad_norm
        self.learning_rate = learning_rate
        self.hidden_units = hidden_units
        self.random_state = random_state
        self.encoder = encoder

    @property
    def private(self) -> bool:
        """Whether ``fit`` trains with DP-SGD."""
        return self.epsilon is not None or self.noise_multiplier is not None

    def _validate(self) -> None:
        if self.epsilon is not None:
            check_positive(self.epsilon, "epsilon")
        if self.noise_multiplier is not None:
            check_positive(self.noise_multiplier, "noise_multiplier")
        check_probability(self.delta, "delta", open_interval=True)
        for name in ("epochs", "batch_size"):
            check_positive_int(getattr(self, name), name)
        if (
            isinstance(self.hidden_units, bool)
            or not isinstance(self.hidden_units, (int, np.integer))
            or self.hidden_units < 0
        ):
            raise ValueError(f"hidden_units must be an integer >= 0, got {self.hidden_units!r}")
        check_positive(self.max_grad_norm, "max_grad_norm")
        check_positive(self.learning_rate, "learning_rate")

    def _network(self, n_features: int):
        import torch

        if self.hidden_units == 0:
            return torch.nn.Linear(n_features, 2)
        return torch.nn.Sequential(
            torch.nn.Linear(n_features, self.hidden_units),
            torch.nn.ReLU(),
            torch.nn.Linear(self.hidden_units, 2),
        )

    def fit(self, X: pd.DataFrame | np.ndarray, y: Any) -> DPSGDClassifier:
        """Train on ``X`` (table of features) and binary labels ``y``; return ``self``."""
        import torch

        self._validate()
        labels = check_binary(y, "y")
        check_consistent_length(X=X, y=labels)
        if len(np.unique(labels)) < 2:
            raise ValueError(f"y holds one class only ({labels[0]}); a classifier needs both classes 0 and 1")
        if self.encoder is not None and not isinstance(self.encoder, TabularEncoder):
            raise TypeError(f"encoder must be a TabularEncoder or None, got {type(self.encoder).__name__}")
        self.encoder_ = copy.deepcopy(self.encoder) if self.encoder is not None else TabularEncoder()
        self.end_to_end_ = bool(self.private and self.encoder_.public)
        features = torch.from_numpy(self.encoder_.fit_transform(X))
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = self.encoder_.n_features_in_
        target = torch.from_numpy(labels.astype(np.int64))
        with torch.random.fork_rng(), warnings.catch_warnings(), _one_torch_thread():
            warnings.simplefilter("ignore")
            torch.manual_seed(int(self.random_state))
            model = self._network(features.shape[1])
            self._train(model, features, target)
        return self

    def _train(self, model, features, target) -> None:
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        loader = DataLoader(TensorDataset(features, target), batch_size=int(self.batch_size), shuffle=True)
        optimizer = torch.optim.SGD(model.parameters(), lr=float(self.learning_rate))
        engine = None
        if self.private:
            from opacus import PrivacyEngine

            engine = PrivacyEngine(accountant="rdp")
            common = dict(
                module=model, optimizer=optimizer, data_loader=loader, max_grad_norm=self.max_grad_norm
            )
            if self.noise_multiplier is not None:
                model, optimizer, loader = engine.make_private(
                    noise_multiplier=self.noise_multiplier, **common
                )
            else:
                self._check_reachable(len(loader))
                model, optimizer, loader = engine.make_private_with_epsilon(
                    target_epsilon=self.epsilon, target_delta=self.delta, epochs=int(self.epochs), **common
                )
        loss_fn = torch.nn.CrossEntropyLoss()
        model.train()
        for _ in progress(range(int(self.epochs)), desc="DP-SGD epochs" if engine else "SGD epochs"):
            for batch_x, batch_y in loader:
                if len(batch_x) == 0:
                    continue
                optimizer.zero_grad()
                loss_fn(model(batch_x), batch_y).backward()
                optimizer.step()
        plain = model._module if hasattr(model, "_module") else model
        plain.eval()
        self.model_ = plain
        self.epsilon_ = float(engine.get_epsilon(self.delta)) if engine else float("inf")
        self.noise_multiplier_ = float(optimizer.noise_multiplier) if engine else 0.0
        self.n_train_ = int(len(features))
        self.privacy_history_ = [tuple(map(float, h)) for h in engine.accountant.history] if engine else None

    def _check_reachable(self, n_batches: int) -> None:
        """Refuse early (and fast) a target epsilon that even very heavy noise cannot reach."""
        from opacus.accountants import RDPAccountant

        sample_rate = 1.0 / n_batches
        accountant = RDPAccountant()
        accountant.history = [(MAX_NOISE_MULTIPLIER, sample_rate, int(self.epochs / sample_rate))]
        if accountant.get_epsilon(self.delta) > self.epsilon:
            raise ValueError(
                f"epsilon={self.epsilon:g} is too small to reach with {n_batches} batches of "
                f"batch_size={self.batch_size} for epochs={self.epochs} (noise above "
                f"{MAX_NOISE_MULTIPLIER:g} x the clipping bound would be needed): use a larger epsilon, "
                "fewer epochs, a smaller batch or more data"
            )

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Class probabilities, shape (n, 2)."""
        import torch

        check_is_fitted(self, "model_")
        with torch.no_grad():
            logits = self.model_(torch.from_numpy(self.encoder_.transform(X)))
            return torch.softmax(logits, dim=1).numpy().astype(float)

    def __sklearn_tags__(self):
        # 1 is the favourable outcome throughout the kit, so labels are 0/1 only, not any two classes
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Predicted labels 0/1."""
        return self.predict_proba(X).argmax(axis=1)

    def score(self, X: pd.DataFrame | np.ndarray, y: Any) -> float:
        """Accuracy on ``(X, y)``."""
        return float(np.mean(self.predict(X) == check_binary(y, "y")))
