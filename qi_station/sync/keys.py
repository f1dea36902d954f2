"""Ed25519 keys (cryptography imported lazily). Keys travel as base64 of the raw 32 bytes."""

from __future__ import annotations

import base64
import functools
import hashlib
from typing import Any


def generate() -> tuple[str, str]:
    """Returns (private_b64, public_b64)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    k = Ed25519PrivateKey.generate()
    priv = k.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    pub = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(priv).decode("ascii"), base64.b64encode(pub).decode("ascii")


@functools.lru_cache(maxsize=8)
def _private(private_b64: str) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(private_b64))


@functools.lru_cache(maxsize=4096)
def _public(public_b64: str) -> Any:
    """The key object of a base64 public key (a hub verifies its stations' calls: parsed once each)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    return Ed25519PublicKey.from_public_bytes(base64.b64decode(public_b64))


def sign(private_b64: str, data: bytes) -> str:
    return base64.b64encode(_private(private_b64).sign(data)).decode("ascii")


def verify(public_b64: str, data: bytes, sig_b64: str) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        _public(public_b64).verify(base64.b64decode(sig_b64), data)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def fingerprint(public_b64: str) -> str:
    return hashlib.sha256(base64.b64decode(public_b64)).hexdigest()[:16]


def valid_pubkey(public_b64: str) -> bool:
    """True for base64 of a raw 32-byte Ed25519 public key."""
    import binascii

    try:
        return len(base64.b64decode(public_b64, validate=True)) == 32
    except (binascii.Error, ValueError, TypeError):
        return False
