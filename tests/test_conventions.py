"""The conventions table of docs/architecture.md, checked on every public signature of every topic."""

from __future__ import annotations

import importlib
import inspect
import warnings
from collections.abc import Iterator

import pytest

TOPICS = ["fairness", "explain", "cards", "privacy", "sft", "attribution", "datasets", "audit"]

#: One name per idea; these other spellings must not appear in a public signature.
OTHER_NAMES = {
    "seed": "random_state",
    "rng": "random_state",
    "progress": "show_progress",
    "verbose": "show_progress",
    "groups": "sensitive_features",
    "identities": "sensitive_features",
}
#: (function, parameter) pairs the table names as exceptions, each with its reason there.
EXCEPTIONS = {
    # per-query groups of an estimate table, not per-row groups of people
    ("attribution.compare_estimates", "groups"),
    # privacy's l-diversity "sensitive attribute" is a column whose values must stay diverse
    ("privacy.anonymise", "sensitive"),
    ("privacy.l_diversity", "sensitive"),
    # deprecated keyword kept beside order=/random_state= (its meaning was a mode, not a seed)
    ("explain.deletion_curve", "random_order"),
    ("explain.insertion_curve", "random_order"),
}
#: Fresh noise each call: a published seed would let anyone subtract a DP mechanism's noise.
NOISE_DEFAULT_NONE = {
    "laplace_mechanism",
    "gaussian_mechanism",
    "noisy_count",
    "noisy_histogram",
    "noisy_mean",
}


def _public_signatures() -> Iterator[tuple[str, inspect.Signature]]:
    for topic in TOPICS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = importlib.import_module(f"ethicskit.{topic}")
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj):
                members = [("__init__", obj.__init__)] + [
                    (k, v) for k, v in vars(obj).items() if inspect.isfunction(v) and not k.startswith("_")
                ]
                targets = [(f"{topic}.{name}.{k}", v) for k, v in members]
            elif callable(obj):
                targets = [(f"{topic}.{name}", obj)]
            else:
                continue
            for label, function in targets:
                try:
                    yield label, inspect.signature(function)
                except (TypeError, ValueError):  # a builtin without a signature
                    continue


SIGNATURES = dict(_public_signatures())


def test_the_walk_sees_every_topic():
    assert {label.split(".")[0] for label in SIGNATURES} >= set(TOPICS) - {"audit"}
    assert len(SIGNATURES) > 100


@pytest.mark.parametrize("other", sorted(OTHER_NAMES))
def test_one_name_per_idea(other):
    found = [
        label
        for label, signature in SIGNATURES.items()
        if other in signature.parameters and (label.rsplit(".", 1)[0], other) not in EXCEPTIONS
        and (label, other) not in EXCEPTIONS
    ]
    assert not found, f"{found} take {other}=; the convention is {OTHER_NAMES[other]}="


def test_random_state_defaults_to_a_fixed_seed_except_dp_noise():
    wrong = []
    for label, signature in SIGNATURES.items():
        parameter = signature.parameters.get("random_state")
        if parameter is None or parameter.default is inspect.Parameter.empty:
            continue
        expected = None if label.rsplit(".", 1)[-1] in NOISE_DEFAULT_NONE else 0
        if parameter.default != expected:
            wrong.append(f"{label}: random_state={parameter.default!r}, expected {expected!r}")
    assert not wrong, wrong


def test_random_state_and_show_progress_are_keyword_only():
    positional = [
        f"{label}({name})"
        for label, signature in SIGNATURES.items()
        for name in ("random_state", "show_progress")
        if name in signature.parameters
        and signature.parameters[name].kind is not inspect.Parameter.KEYWORD_ONLY
        and not label.endswith(".__init__")  # estimators' __init__ as fairlearn's: keyword-only there too
    ]
    assert not positional, positional


def test_old_names_still_work_and_say_what_to_write():
    from ethicskit.explain import prediction_gap

    with pytest.warns(FutureWarning, match="sensitive_features"):
        assert prediction_gap([0.2, 0.4, 0.6, 0.8], sensitive=["a", "a", "b", "b"]) == pytest.approx(0.4)
    with pytest.raises(TypeError, match="pass sensitive_features= only"):
        prediction_gap([0.2, 0.8], sensitive=["a", "b"], sensitive_features=["a", "b"])
