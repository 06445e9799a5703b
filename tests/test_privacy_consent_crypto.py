"""ethicskit.privacy.consent and ethicskit.privacy.crypto."""

import pandas as pd
import pytest

from ethicskit.privacy import (
    DecryptionError,
    consented_purposes,
    decrypt_bytes,
    decrypt_frame,
    encrypt_bytes,
    encrypt_frame,
    generate_hmac_key,
    generate_key,
    minimise,
    pseudonymise,
    rotate_token,
    simulate_consent,
)


@pytest.fixture
def people():
    return pd.DataFrame(
        {
            "name": ["Ann", "Bo", "Cy", "Di"],
            "email": ["a@x", "b@x", "c@x", "d@x"],
            "age": [30, 41, 52, 63],
            "income": [1, 0, 1, 0],
            "consent": ["research;service", "service", None, "Research"],
        }
    )


def test_consent_parsing():
    assert consented_purposes("research; Marketing") == {"research", "marketing"}
    assert consented_purposes(None) == frozenset()
    assert consented_purposes(["a", "b"]) == {"a", "b"}


def test_minimise_keeps_consenting_rows_and_needed_columns(people):
    result = minimise(
        people,
        purpose="research",
        needed_columns=["age", "income"],
        consent_column="consent",
        reasons={"email": "contact details are not needed to study income"},
    )
    assert list(result.data.columns) == ["age", "income"]
    assert list(result.data.index) == [0, 3]
    record = result.to_frame()
    assert record.loc[0, "action"] == "drop_rows" and record.loc[0, "count"] == 2
    dropped = set(record.loc[record["action"] == "drop_column", "target"])
    assert dropped == {"name", "email", "consent"}
    assert "contact details" in record.set_index("target").loc["email", "reason"]
    assert all(isinstance(r, dict) and r["purpose"] == "research" for r in result.removed)


def test_minimise_errors(people):
    with pytest.raises(ValueError, match="no column"):
        minimise(people, purpose="research", needed_columns=["salary"])
    with pytest.raises(ValueError, match="purpose"):
        minimise(people, purpose="  ", needed_columns=["age"])
    with pytest.raises(ValueError, match="needed_columns is empty"):
        minimise(people, purpose="research", needed_columns=[])


def test_simulate_consent_is_seeded_and_follows_rates():
    a = simulate_consent(2000, rates={"research": 0.8, "marketing": 0.1}, random_state=1)
    b = simulate_consent(2000, rates={"research": 0.8, "marketing": 0.1}, random_state=1)
    assert a.equals(b)
    share = a.map(lambda v: "research" in consented_purposes(v)).mean()
    assert 0.75 < share < 0.85
    with pytest.raises(ValueError, match="rates"):
        simulate_consent(10, rates={"research": 1.5})


def test_pseudonymise_is_keyed_and_consistent(people):
    key, other = generate_hmac_key(), generate_hmac_key()
    first = pseudonymise(people, columns=["name", "email"], key=key)
    again = pseudonymise(people, columns=["name", "email"], key=key)
    different = pseudonymise(people, columns=["name"], key=other)
    assert first["name"].equals(again["name"])
    assert not first["name"].equals(different["name"])
    assert not set(first["name"]) & set(people["name"])
    assert first["name"].str.len().eq(16).all() and first["age"].equals(people["age"])
    assert people.loc[0, "name"] == "Ann"  # input untouched
    with pytest.raises(ValueError, match="at least 16 bytes"):
        pseudonymise(people, columns=["name"], key=b"short")
    with pytest.raises(ValueError, match="no column"):
        pseudonymise(people, columns=["ssn"], key=key)


def test_encrypt_frame_round_trip_and_wrong_key(people):
    key = generate_key()
    token = encrypt_frame(people[["name", "age"]], key=key)
    assert b"Ann" not in token
    back = decrypt_frame(token, keys=key)
    assert back.equals(people[["name", "age"]])
    with pytest.raises(DecryptionError, match="wrong or the token was tampered"):
        decrypt_frame(token, keys=generate_key())


def test_tampered_token_is_rejected():
    key = generate_key()
    token = bytearray(encrypt_bytes(b"salary=50000", key=key))
    token[-5] = ord("A") if token[-5] != ord("A") else ord("B")
    with pytest.raises(DecryptionError):
        decrypt_bytes(bytes(token), keys=[key])
    with pytest.raises(ValueError, match="Fernet key"):
        encrypt_bytes(b"x", key=b"not a key")


def test_key_rotation():
    old, new = generate_key(), generate_key()
    token = encrypt_bytes(b"record", key=old)
    rotated = rotate_token(token, new_key=new, old_keys=[old])
    assert decrypt_bytes(rotated, keys=[new]) == b"record"
    assert decrypt_bytes(token, keys=[new, old]) == b"record"
    with pytest.raises(DecryptionError):
        decrypt_bytes(token, keys=[new])
    with pytest.raises(DecryptionError):
        rotate_token(token, new_key=new, old_keys=[generate_key()])


def test_removal_record_goes_into_the_audit_trail(people):
    from ethicskit.audit import AuditTrail

    result = minimise(people, purpose="research", needed_columns=["age"], consent_column="consent")
    trail = AuditTrail()
    for removal in result.removed:
        trail.record(
            "data",
            f"{removal['action']} {removal['target']}",
            author="steward",
            rationale=removal["reason"],
            details=removal,
        )
    assert len(trail) == len(result.removed) == 5 and trail.verify().ok
    assert trail.to_frame()["details"].iloc[0]["count"] == 2


def test_encrypted_frames_keep_their_column_types():
    """#21: decrypt_frame turned the code '01234' into the number 1234."""
    key = generate_key()
    codes = pd.DataFrame({"zip": ["01234", "02139"], "n": [1, 2]})
    assert decrypt_frame(encrypt_frame(codes, key=key), keys=key).equals(codes)
