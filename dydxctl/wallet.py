"""Mnemonic → key → address, and signing. The mnemonic never leaves this module's locals.

Libraries, not hand-rolled crypto: `mnemonic` (BIP-39, Trezor's reference), `bip32`
(BIP-32 derivation on libsecp256k1), `coincurve` (libsecp256k1 signatures, always low-S),
`bech32` (BIP-173 reference). They are imported here only, so commands that need no key
do not load them.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from dydxctl.chain import BECH32_PREFIX, DERIVATION_PATH, SECP256K1_ORDER
from dydxctl.errors import WalletError
from dydxctl.redact import MNEMONIC_ENV

VALID_WORD_COUNTS = (12, 15, 18, 21, 24)
# 24 words of at most 8 letters plus spaces, with room for CRLF and padding.
MAX_MNEMONIC_FILE_BYTES = 4096
PR_SET_DUMPABLE = 4  # <linux/prctl.h>


def _ripemd160(data: bytes) -> bytes:
    try:
        return hashlib.new("ripemd160", data).digest()
    except ValueError:  # OpenSSL 3 without the legacy provider
        from bip32.ripemd160 import ripemd160

        return ripemd160(data)


def address_from_public_key(public_key: bytes, prefix: str = BECH32_PREFIX) -> str:
    """Cosmos address: bech32(prefix, RIPEMD160(SHA256(33-byte compressed key)))."""
    from bech32 import bech32_encode, convertbits

    digest = _ripemd160(hashlib.sha256(public_key).digest())
    return bech32_encode(prefix, convertbits(digest, 8, 5))


def is_valid_address(address: str, prefix: str = BECH32_PREFIX) -> bool:
    from bech32 import bech32_decode

    hrp, data = bech32_decode(address)
    return hrp == prefix and data is not None


class Wallet:
    """A secp256k1 key at m/44'/118'/0'/0/0 and its dYdX address."""

    def __init__(self, private_key: bytes) -> None:
        from coincurve import PrivateKey

        forbid_core_dumps()
        self._key = PrivateKey(private_key)
        self.public_key: bytes = self._key.public_key.format(compressed=True)
        self.address: str = address_from_public_key(self.public_key)

    def __repr__(self) -> str:  # never show key material
        return f"Wallet(address={self.address!r})"

    @classmethod
    def from_mnemonic(cls, mnemonic: str) -> Wallet:
        from bip32 import BIP32
        from mnemonic import Mnemonic

        words = mnemonic.split()
        if len(words) not in VALID_WORD_COUNTS:
            raise WalletError(
                f"The mnemonic has {len(words)} words; a BIP-39 mnemonic has 12, 15, 18, 21 or 24.",
                "Check the mnemonic source (DYDX_MNEMONIC or --mnemonic-file).",
            )
        checker = Mnemonic("english")
        normalized = " ".join(words)
        if not checker.check(normalized):
            raise WalletError(
                "The mnemonic is not valid BIP-39 (an unknown word or a bad checksum).",
                "Check the words and their order.",
            )
        seed = Mnemonic.to_seed(normalized, passphrase="")
        return cls(BIP32.from_seed(seed).get_privkey_from_path(DERIVATION_PATH))

    def sign(self, message: bytes) -> bytes:
        """64-byte r‖s ECDSA signature over SHA-256(message); libsecp256k1 emits low-S."""
        return self._key.sign_recoverable(message, hasher=lambda m: hashlib.sha256(m).digest())[:64]


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Check a 64-byte compact signature over SHA-256(message) (used by the emulator)."""
    from coincurve import PublicKey
    from coincurve.ecdsa import cdata_to_der, deserialize_compact

    if len(signature) != 64:
        return False
    try:
        der = cdata_to_der(deserialize_compact(signature))
        return PublicKey(public_key).verify(
            der, message, hasher=lambda m: hashlib.sha256(m).digest()
        )
    except Exception:
        return False


def is_low_s(signature: bytes) -> bool:
    """High-S signatures are rejected by the chain (cosmos-sdk secp256k1 VerifySignature)."""
    return int.from_bytes(signature[32:], "big") <= SECP256K1_ORDER // 2


def forbid_core_dumps() -> None:
    """No core file and no ptrace attach for this process from now on: a dump of a process
    holding a key would hold the key. RLIMIT_CORE 0 everywhere; PR_SET_DUMPABLE 0 on Linux
    (prctl(2): also makes /proc/<pid>/mem unreadable by other processes of the same user)."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):  # not POSIX, or a hard limit we cannot lower
        pass
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        except (OSError, AttributeError):
            pass


def _read_mnemonic_file(path: Path) -> str:
    from dydxctl.secret_file import read_secret_file

    return read_secret_file(
        path, what="mnemonic file", hint="Check --mnemonic-file / DYDXCTL_MNEMONIC_FILE.",
        not_regular_hint="Point --mnemonic-file at a plain file of mode 0600, e.g. one "
        "written by `dydxctl keys new --out FILE`.",
        max_bytes=MAX_MNEMONIC_FILE_BYTES, too_large="larger than a mnemonic",
    )  # fmt: skip


def read_mnemonic(
    env: Mapping[str, str], mnemonic_file: Path | None, *, interactive: bool | None = None
) -> str:
    """The mnemonic from a 0600 file, DYDX_MNEMONIC, or a hidden prompt on a TTY."""
    if mnemonic_file is not None:
        return _read_mnemonic_file(mnemonic_file)
    if env.get(MNEMONIC_ENV, "").strip():
        return env[MNEMONIC_ENV].strip()
    if interactive is None:
        interactive = sys.stdin.isatty()
    if interactive:
        try:
            entered = getpass.getpass("Mnemonic (hidden): ").strip()
        except EOFError:  # Ctrl-D at the prompt
            entered = ""
        if entered:
            return entered
        raise WalletError(
            "No mnemonic was entered at the prompt.",
            f"Type the words and press Enter, or set {MNEMONIC_ENV} or --mnemonic-file.",
        )
    raise WalletError(
        "No wallet: this command signs, and no mnemonic was given.",
        f"Set {MNEMONIC_ENV}, pass --mnemonic-file PATH (mode 0600), or run on a terminal.",
    )


def load_wallet(env: Mapping[str, str] | None, mnemonic_file: Path | None) -> Wallet:
    forbid_core_dumps()  # before the phrase is read into memory
    return Wallet.from_mnemonic(
        read_mnemonic(env if env is not None else os.environ, mnemonic_file)
    )
