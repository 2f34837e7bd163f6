"""Keys, addresses and signatures against dYdX's published vectors; mnemonic sources."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from dydxctl.errors import WalletError
from dydxctl.wallet import (
    Wallet,
    address_from_public_key,
    is_low_s,
    is_valid_address,
    read_mnemonic,
    verify,
)
from tests.conftest import TEST_ADDRESS, TEST_MNEMONIC

# v4-client-py-v2 tests/conftest.py: DYDX_TEST_MNEMONIC, DYDX_TEST_PRIVATE_KEY, TEST_ADDRESS
# (also v4-client-js examples/constants.ts).
PUBLISHED_PRIVATE_KEY = "e92a6595c934c991d3b3e987ea9b3125bf61a076deab3a9cb519787b7b3e8d77"


def test_mnemonic_to_published_key_and_address() -> None:
    wallet = Wallet.from_mnemonic(TEST_MNEMONIC)
    assert wallet.address == TEST_ADDRESS
    assert wallet._key.secret.hex() == PUBLISHED_PRIVATE_KEY
    assert Wallet(bytes.fromhex(PUBLISHED_PRIVATE_KEY)).address == TEST_ADDRESS
    assert is_valid_address(wallet.address)
    assert TEST_MNEMONIC.split()[0] not in repr(wallet)


def test_whitespace_in_mnemonic_is_normalized() -> None:
    messy = "  " + TEST_MNEMONIC.replace(" ", "   \n") + "\n"
    assert Wallet.from_mnemonic(messy).address == TEST_ADDRESS


def test_signature_is_low_s_and_verifies() -> None:
    wallet = Wallet.from_mnemonic(TEST_MNEMONIC)
    for i in range(50):
        message = f"sign doc {i}".encode()
        signature = wallet.sign(message)
        assert len(signature) == 64 and is_low_s(signature)
        assert verify(wallet.public_key, message, signature)
        assert not verify(wallet.public_key, message + b"!", signature)


def test_address_is_ripemd160_of_sha256() -> None:
    wallet = Wallet.from_mnemonic(TEST_MNEMONIC)
    digest = hashlib.new("ripemd160", hashlib.sha256(wallet.public_key).digest()).digest()
    from bech32 import bech32_decode, convertbits

    hrp, data = bech32_decode(address_from_public_key(wallet.public_key))
    assert hrp == "dydx" and bytes(convertbits(data, 5, 8, False)) == digest


@pytest.mark.parametrize(
    ("mnemonic", "fragment"),
    [
        ("mirror actor skill", "has 3 words"),
        (TEST_MNEMONIC.rsplit(" ", 1)[0] + " abandon", "bad checksum"),
        (TEST_MNEMONIC.replace("mirror", "mirrorr"), "unknown word"),
    ],
)
def test_invalid_mnemonics(mnemonic: str, fragment: str) -> None:
    with pytest.raises(WalletError, match=fragment) as info:
        Wallet.from_mnemonic(mnemonic)
    assert info.value.exit_code == 10
    assert mnemonic not in info.value.message


def test_mnemonic_from_env() -> None:
    assert read_mnemonic({"DYDX_MNEMONIC": TEST_MNEMONIC}, None, interactive=False) == TEST_MNEMONIC


def test_mnemonic_file_must_be_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    path.write_text(TEST_MNEMONIC + "\n")
    path.chmod(0o644)
    with pytest.raises(WalletError, match="can be read by others") as info:
        read_mnemonic({}, path, interactive=False)
    assert "chmod 600" in info.value.hint
    path.chmod(0o600)
    assert read_mnemonic({}, path, interactive=False) == TEST_MNEMONIC


def test_file_wins_over_env_and_missing_file_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "m.txt"
    path.write_text("from file")
    path.chmod(0o600)
    assert read_mnemonic({"DYDX_MNEMONIC": "from env"}, path, interactive=False) == "from file"
    with pytest.raises(WalletError, match="Cannot read"):
        read_mnemonic({}, tmp_path / "absent.txt", interactive=False)


def test_no_source_without_a_terminal() -> None:
    with pytest.raises(WalletError, match="No wallet"):
        read_mnemonic({}, None, interactive=False)
