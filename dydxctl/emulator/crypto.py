"""Signature checks and address derivation as the chain does them (the emulator's own copy).

cosmos-sdk crypto/keys/secp256k1/secp256k1.go: address = RIPEMD160(SHA256(33-byte key));
VerifySignature takes a 64-byte r‖s signature over SHA-256(msg) and rejects high-S forms.
Built on coincurve (libsecp256k1) and bech32 (BIP-173 reference), never on product code.
"""

from __future__ import annotations

import hashlib

from dydxctl.emulator.rules import BECH32_HRP, SECP256K1_N


def _ripemd160(data: bytes) -> bytes:
    try:
        return hashlib.new("ripemd160", data).digest()
    except ValueError:  # OpenSSL 3 without the legacy provider
        from bip32.ripemd160 import ripemd160

        return ripemd160(data)


def address_of(public_key: bytes, hrp: str = BECH32_HRP) -> str:
    from bech32 import bech32_encode, convertbits

    return bech32_encode(hrp, convertbits(_ripemd160(hashlib.sha256(public_key).digest()), 8, 5))


def signature_is_valid(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """A low-S 64-byte compact ECDSA signature of SHA-256(message) by `public_key`."""
    from coincurve import PublicKey
    from coincurve.ecdsa import cdata_to_der, deserialize_compact

    if len(signature) != 64 or int.from_bytes(signature[32:], "big") > SECP256K1_N // 2:
        return False
    try:
        der = cdata_to_der(deserialize_compact(signature))
        return PublicKey(public_key).verify(
            der, message, hasher=lambda m: hashlib.sha256(m).digest()
        )
    except Exception:
        return False


def is_account_address(text: str, hrp: str = BECH32_HRP) -> bool:
    """cosmos-sdk types/address.go AccAddressFromBech32: bech32 with the chain's prefix and a
    non-empty payload of at most 255 bytes (VerifyAddressFormat)."""
    from bech32 import bech32_decode, convertbits

    found_hrp, data = bech32_decode(text)
    if found_hrp != hrp or data is None:
        return False
    payload = convertbits(data, 5, 8, False)
    return payload is not None and 0 < len(payload) <= 255
