"""Pseudonymisation with a keyed hash (HMAC-SHA256) and encryption at rest with Fernet (+ key rotation).

Keys are never stored with the data: functions take the key as an argument and return only the
transformed data. Keep keys in a secrets store or an environment variable, not in the notebook.

Examples
--------
>>> key = generate_key()
>>> token = encrypt_bytes(b"secret", key=key)
>>> decrypt_bytes(token, keys=[key])
b'secret'
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from collections.abc import Sequence

import pandas as pd

from ethicskit._validation import check_columns

__all__ = [
    "DecryptionError",
    "decrypt_bytes",
    "decrypt_frame",
    "encrypt_bytes",
    "encrypt_frame",
    "generate_hmac_key",
    "generate_key",
    "pseudonymise",
    "rotate_token",
]


class DecryptionError(ValueError):
    """A token could not be decrypted: wrong key, or the token was altered."""


def generate_hmac_key() -> bytes:
    """Return a fresh random 32-byte key for :func:`pseudonymise`."""
    return secrets.token_bytes(32)


def generate_key() -> bytes:
    """Return a fresh Fernet key (url-safe base64, 32 random bytes) for encryption at rest."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key()


def _check_hmac_key(key: object) -> bytes:
    if isinstance(key, str):
        key = key.encode()
    if not isinstance(key, (bytes, bytearray)):
        raise TypeError(f"key must be bytes (see generate_hmac_key()), got {type(key).__name__}")
    if len(key) < 16:
        raise ValueError(f"key must be at least 16 bytes long to resist guessing, got {len(key)} bytes")
    return bytes(key)


def pseudonymise(data: pd.DataFrame, *, columns: Sequence[str], key: bytes, length: int = 16) -> pd.DataFrame:
    """Replace identifying columns by keyed hashes (HMAC-SHA256), consistently across tables.

    The same value with the same key always gives the same pseudonym, so tables can still be joined;
    without the key nobody can recompute the mapping (unlike a plain hash, which anyone can build a
    dictionary for). Pseudonymised data is still personal data: the other columns may re-identify.

    Parameters
    ----------
    data : pandas.DataFrame
        The table.
    columns : sequence of str
        Columns to replace.
    key : bytes
        Secret key of at least 16 bytes, kept apart from the data.
    length : int
        Number of hex characters kept from each digest (8-64).

    Returns
    -------
    pandas.DataFrame
        A copy with the columns replaced; missing values stay missing.
    """
    key = _check_hmac_key(key)
    if isinstance(columns, str):
        columns = [columns]
    check_columns(data, columns, "data (columns)")
    if isinstance(length, bool) or not isinstance(length, int) or not 8 <= length <= 64:
        raise ValueError(f"length must be an integer between 8 and 64, got {length!r}")

    def digest(value: object) -> object:
        if pd.isna(value):
            return value
        return hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()[:length]

    out = data.copy()
    for column in columns:
        out[column] = data[column].map(digest)
    return out


def _fernet(keys: bytes | Sequence[bytes]):
    from cryptography.fernet import Fernet, MultiFernet

    if isinstance(keys, (bytes, str)):
        keys = [keys]
    keys = list(keys)
    if not keys:
        raise ValueError("keys is empty; pass at least one Fernet key (newest first)")
    try:
        fernets = [Fernet(k) for k in keys]
    except (ValueError, TypeError) as error:
        raise ValueError(
            "each key must be a Fernet key: 32 url-safe base64-encoded bytes, as made by generate_key()"
        ) from error
    return MultiFernet(fernets)


def encrypt_bytes(payload: bytes, *, key: bytes) -> bytes:
    """Encrypt and authenticate ``payload`` with Fernet (AES-128-CBC + HMAC-SHA256)."""
    if not isinstance(payload, (bytes, bytearray)):
        raise TypeError(f"payload must be bytes, got {type(payload).__name__}")
    return _fernet(key).encrypt(bytes(payload))


def decrypt_bytes(token: bytes, *, keys: bytes | Sequence[bytes]) -> bytes:
    """Decrypt a Fernet token with any of ``keys`` (newest first).

    Raises
    ------
    DecryptionError
        When no key fits or the token was modified (Fernet authenticates every token).
    """
    from cryptography.fernet import InvalidToken

    if not isinstance(token, (bytes, bytearray, str)):
        raise TypeError(f"token must be bytes, got {type(token).__name__}")
    try:
        return _fernet(keys).decrypt(token)
    except InvalidToken:
        raise DecryptionError(
            "could not decrypt the token: the key is wrong or the token was tampered with"
        ) from None


def rotate_token(token: bytes, *, new_key: bytes, old_keys: Sequence[bytes]) -> bytes:
    """Re-encrypt ``token`` under ``new_key`` (MultiFernet.rotate); old keys can then be retired."""
    from cryptography.fernet import InvalidToken

    if isinstance(old_keys, (bytes, str)):
        old_keys = [old_keys]
    try:
        return _fernet([new_key, *old_keys]).rotate(token)
    except InvalidToken:
        raise DecryptionError(
            "could not rotate the token: none of the keys fits, or the token was tampered with"
        ) from None


#: Marks a token written with its column types (a JSON table schema), so "01234" stays text.
_FRAME_MAGIC = b"ethicskit-frame-v2\n"


def encrypt_frame(data: pd.DataFrame, *, key: bytes) -> bytes:
    """Serialise ``data`` with its column types (JSON table schema) and encrypt it.

    Store the token, keep the key elsewhere. Types are kept so that a code such as ``"01234"``
    comes back as the same text, not as the number 1234.
    """
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    payload = data.reset_index(drop=True).to_json(orient="table", index=False)
    return encrypt_bytes(_FRAME_MAGIC + payload.encode("utf-8"), key=key)


def decrypt_frame(token: bytes, *, keys: bytes | Sequence[bytes]) -> pd.DataFrame:
    """Inverse of :func:`encrypt_frame` (column types restored; older CSV tokens are re-inferred)."""
    payload = decrypt_bytes(token, keys=keys)
    if payload.startswith(_FRAME_MAGIC):
        text = payload[len(_FRAME_MAGIC) :].decode("utf-8")
        return pd.read_json(io.StringIO(text), orient="table")
    return pd.read_csv(io.BytesIO(payload))
