"""ethicskit.privacy.anonymity: uniqueness, k-anonymity, l-diversity, hierarchies, anonymiser, linkage."""

import itertools

import numpy as np
import pandas as pd
import pytest

from ethicskit.privacy import (
    CategoryHierarchy,
    IntervalHierarchy,
    MaskHierarchy,
    anonymise,
    equivalence_class_sizes,
    generalise,
    information_loss,
    k_anonymity,
    l_diversity,
    linkage_attack,
    uniqueness,
)


@pytest.fixture
def table():
    rng = np.random.default_rng(3)
    n = 400
    return pd.DataFrame(
        {
            "age": rng.integers(18, 90, n),
            "zip": [f"{z:05d}" for z in rng.integers(10000, 10400, n)],
            "sex": rng.choice(["F", "M"], n),
            "diagnosis": rng.choice(["flu", "asthma", "diabetes", "none"], n),
        }
    )


HIER = {
    "age": IntervalHierarchy(widths=(5, 10, 20)),
    "zip": MaskHierarchy(length=5),
    "sex": CategoryHierarchy([{"F": "person", "M": "person"}]),
}


def test_measures_on_a_small_table():
    frame = pd.DataFrame(
        {"a": [1, 1, 2, 2, 3], "b": ["x", "x", "y", "y", "z"], "s": ["p", "q", "p", "p", "r"]}
    )
    assert list(equivalence_class_sizes(frame, quasi_identifiers=["a", "b"])) == [2, 2, 2, 2, 1]
    assert k_anonymity(frame, quasi_identifiers=["a", "b"]) == 1
    assert uniqueness(frame, quasi_identifiers=["a", "b"]) == pytest.approx(0.2)
    assert l_diversity(frame.iloc[:4], quasi_identifiers=["a"], sensitive="s") == 1
    with pytest.raises(ValueError, match="no column"):
        k_anonymity(frame, quasi_identifiers=["zip"])


def test_hierarchies_generalise():
    ages = pd.Series([37, 18, 90], name="age")
    assert list(HIER["age"].generalise(ages, 1)) == ["35-39", "15-19", "90-94"]
    assert list(HIER["age"].generalise(ages, 3)) == ["20-39", "0-19", "80-99"]
    assert set(HIER["age"].generalise(ages, 4)) == {"*"}
    assert list(HIER["zip"].generalise(pd.Series(["13053"]), 2)) == ["130**"]
    with pytest.raises(ValueError, match="level must be"):
        HIER["zip"].generalise(pd.Series(["13053"]), 6)
    with pytest.raises(ValueError, match="does not map"):
        CategoryHierarchy([{"F": "x"}]).generalise(pd.Series(["M"]), 1)
    with pytest.raises(ValueError, match="increase"):
        IntervalHierarchy(widths=(10, 5))


def test_anonymise_reaches_k_with_minimal_loss(table):
    result = anonymise(table, k=5, hierarchies=HIER, max_suppression=0.05)
    assert result.k >= 5
    assert k_anonymity(result.data, quasi_identifiers=list(HIER)) >= 5
    assert result.n_suppressed <= 0.05 * len(table)
    assert len(result.data) == len(table) - result.n_suppressed
    # no feasible level combination loses less information
    feasible = result.candidates[result.candidates["feasible"]]
    assert result.information_loss == pytest.approx(feasible["information_loss"].min())
    assert len(result.candidates) == np.prod([h.height + 1 for h in HIER.values()])
    assert result.information_loss == pytest.approx(
        information_loss(result.levels, HIER, n_rows=len(table), n_suppressed=result.n_suppressed)
    )
    # the diagnosis is untouched
    assert result.data["diagnosis"].equals(table.loc[result.data.index, "diagnosis"])


def test_anonymise_brute_force_agrees(table):
    small = table.iloc[:120]
    hier = {"age": HIER["age"], "zip": HIER["zip"]}
    result = anonymise(small, k=3, hierarchies=hier, max_suppression=0.0)
    best = min(
        information_loss(dict(zip(hier, combo, strict=True)), hier, n_rows=len(small))
        for combo in itertools.product(range(5), range(6))
        if k_anonymity(
            generalise(small, hierarchies=hier, levels=dict(zip(hier, combo, strict=True))),
            quasi_identifiers=list(hier),
        )
        >= 3
    )
    assert result.n_suppressed == 0 and result.information_loss == pytest.approx(best)


def test_weights_change_what_is_generalised(table):
    plain = anonymise(table, k=5, hierarchies=HIER)
    keep_zip = anonymise(table, k=5, hierarchies=HIER, weights={"zip": 10})
    assert keep_zip.levels["zip"] < plain.levels["zip"]
    assert keep_zip.levels["age"] > plain.levels["age"]
    assert k_anonymity(keep_zip.data, quasi_identifiers=list(HIER)) >= 5
    with pytest.raises(ValueError, match="weights"):
        anonymise(table, k=5, hierarchies=HIER, weights={"postcode": 1})


def test_anonymise_l_diversity(table):
    result = anonymise(table, k=4, hierarchies=HIER, l=3, sensitive="diagnosis", max_suppression=0.05)
    assert l_diversity(result.data, quasi_identifiers=list(HIER), sensitive="diagnosis") >= 3


def test_anonymise_errors(table):
    with pytest.raises(ValueError, match="larger than the number of rows"):
        anonymise(table, k=1000, hierarchies=HIER)
    with pytest.raises(ValueError, match="no column"):
        anonymise(table, k=2, hierarchies={"postcode": MaskHierarchy(5)})
    with pytest.raises(ValueError, match="k must be a positive integer"):
        anonymise(table, k=0, hierarchies=HIER)
    with pytest.raises(TypeError, match="Hierarchy"):
        anonymise(table, k=2, hierarchies={"age": (5, 10)})


def test_linkage_attack_reidentifies_unique_records(table):
    names = table.assign(name=[f"person{i}" for i in range(len(table))])
    released = table.copy()  # names removed, quasi-identifiers kept
    attack = linkage_attack(released, names, quasi_identifiers=list(HIER), identifier="name")
    unique = uniqueness(table, quasi_identifiers=list(HIER))
    assert attack.rate == pytest.approx(unique)
    assert attack.n_reidentified > 0.5 * len(table)
    row = attack.matches.iloc[0]
    original = names.set_index("name").loc[row["name"]]
    assert row["diagnosis"] == original["diagnosis"]  # the sensitive value leaks
    anonymised = anonymise(table, k=5, hierarchies=HIER)
    after = linkage_attack(
        anonymised.data,
        names,
        quasi_identifiers=list(HIER),
        identifier="name",
        hierarchies=HIER,
        levels=anonymised.levels,
    )
    assert after.n_reidentified == 0


def test_codes_read_as_numbers_and_out_of_range_levels_are_refused():
    """#21: MaskHierarchy(5) on 2138 (zip 02138 read as int) masked nothing; level 9 gave a loss > 1."""
    from ethicskit.privacy import IntervalHierarchy, MaskHierarchy, information_loss, linkage_attack

    with pytest.raises(ValueError, match="leading zeros"):
        MaskHierarchy(5).generalise(pd.Series([2138, 13053]), 1)
    assert MaskHierarchy(5).generalise(pd.Series(["02138"]), 2).tolist() == ["021**"]
    hierarchies = {"age": IntervalHierarchy([5, 10])}
    with pytest.raises(ValueError, match="levels"):
        information_loss({"age": 9}, hierarchies, n_rows=10)
    people = pd.DataFrame({"age": [30], "name": ["a"]})
    with pytest.raises(ValueError, match="external is empty"):
        linkage_attack(people, people.iloc[:0], quasi_identifiers=["age"], identifier="name")
