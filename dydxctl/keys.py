"""`dydxctl keys`: key files for the wallet. `keys new` writes a fresh BIP-39 mnemonic to a
0600 file and prints only its address, so a newcomer gets a throwaway key for the emulator
without a one-liner in another language. (Issue 16 adds `keys add|list|remove` here.)"""

import os
from pathlib import Path
from typing import Annotated

import typer

from dydxctl.cli_base import StrictCommand, StrictGroup, handles_errors, render, runtime_of
from dydxctl.errors import BadInput

# 256 bits of entropy: a 24-word phrase, as dYdX's own wallets generate.
NEW_KEY_STRENGTH_BITS = 256

keys_app = typer.Typer(
    cls=StrictGroup,
    name="keys",
    help="Key files for the wallet, and permissioned trading keys (authenticators).",
    no_args_is_help=True,
    rich_markup_mode="rich",
)


def write_new_key(out: Path) -> str:
    """Write a fresh mnemonic to `out` (created 0600, never overwritten); its address."""
    from mnemonic import Mnemonic

    from dydxctl.wallet import Wallet, forbid_core_dumps

    forbid_core_dumps()
    phrase = Mnemonic("english").generate(strength=NEW_KEY_STRENGTH_BITS)
    address = Wallet.from_mnemonic(phrase).address
    try:
        # O_EXCL: refuse an existing file (or a symlink planted where the key goes).
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        raise BadInput(
            f"{out} already exists; dydxctl never overwrites a key file.",
            "Choose another --out path, or remove the old file if you no longer need it.",
        ) from None
    except OSError as exc:
        raise BadInput(f"Cannot create {out}: {exc.strerror}.", "Check the directory.") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(phrase + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return address


@keys_app.command("new", cls=StrictCommand)
@handles_errors
def keys_new_command(
    ctx: typer.Context,
    out: Annotated[
        Path, typer.Option("--out", help="The key file to create (mode 0600; never overwritten).")
    ],
) -> None:
    """Create a new wallet: a fresh 24-word mnemonic written to --out; prints the address."""
    runtime = runtime_of(ctx)
    address = write_new_key(out.expanduser())
    if runtime.settings.json:
        render.emit_json({"address": address, "key_file": str(out)})
    else:
        render.show(address)


# --- permissioned trading keys (x/accountplus authenticators) -------------------------------
def _subaccount_numbers(text: str | None) -> list[int]:
    """`--subaccount 0,1` for a SubaccountFilter: each within the chain's subaccount range."""
    from dydxctl.chain import MAX_SUBACCOUNT_ID_NUMBER

    if not text:
        return []
    items = [i.strip() for i in text.split(",")]
    if not all(i.isascii() and i.isdigit() and int(i) <= MAX_SUBACCOUNT_ID_NUMBER for i in items):
        raise BadInput(
            f"--subaccount {text!r} is not a comma-separated list of subaccount numbers "
            f"0..{MAX_SUBACCOUNT_ID_NUMBER}.",
            "e.g. 0,1 (child subaccounts 128, 256, … are valid too).",
        )
    return sorted({int(i) for i in items})


def _public_key_of(public_key: str | None, key_file: Path | None) -> bytes:
    if (public_key is None) == (key_file is None):
        raise BadInput(
            "Say which key to allow: --public-key HEX or --key-file PATH (one of them).",
            "The dYdX web app's API Trading Keys page registers its own keys; for a key made "
            "here: `dydxctl keys new --out trader.key`, then `keys add --key-file trader.key`.",
        )
    if key_file is not None:
        from dydxctl.trading_key import read_key_file, wallet_from_text
        from dydxctl.wallet import forbid_core_dumps

        forbid_core_dumps()
        return wallet_from_text(read_key_file(key_file.expanduser())).public_key
    assert public_key is not None
    try:
        return bytes.fromhex(public_key.removeprefix("0x"))
    except ValueError:
        raise BadInput(
            "--public-key is not hex.", "Pass the 33-byte compressed key as 66 hex digits."
        ) from None


@keys_app.command("add", cls=StrictCommand)
@handles_errors
def keys_add_command(
    ctx: typer.Context,
    public_key: Annotated[
        str | None, typer.Option("--public-key", help="The trader's compressed public key (hex).")
    ] = None,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--key-file", help="Or: the trader's key file (0600); only its public key is used."
        ),
    ] = None,
    subaccount: Annotated[
        str | None, typer.Option("--subaccount", help="Only these subaccounts, e.g. 0 or 0,1.")
    ] = None,
    market: Annotated[
        str | None, typer.Option("--market", help="Only these markets, e.g. BTC-USD,ETH-USD.")
    ] = None,
) -> None:
    """Allow a trading key to place and cancel orders for this account (signed with the
    owner's mnemonic): AllOf(its signature, place/cancel/batch-cancel, [subaccounts], [markets])."""
    from dydxctl.key_admin import add_key

    runtime = runtime_of(ctx)
    key = _public_key_of(public_key, key_file)
    markets = [m.strip().upper() for m in market.split(",")] if market else []
    result = add_key(runtime, key, subaccounts=_subaccount_numbers(subaccount), markets=markets)
    result["trade_with"] = (
        f"--address {result['owner']} --trading-key-file FILE --authenticator-id {result['id']}"
    )
    render.output(
        runtime.settings.json, result,
        lambda: render.key_value_table(
            [(k, result[k]) for k in
             ("id", "owner", "key_address", "description", "tx_hash", "trade_with")],
            title="Trading key added",
        ),
    )  # fmt: skip


@keys_app.command("list", cls=StrictCommand)
@handles_errors
def keys_list_command(ctx: typer.Context) -> None:
    """The account's authenticators (trading keys), decoded into words."""
    from dydxctl.key_admin import list_keys

    runtime = runtime_of(ctx)
    address = runtime.settings.address or runtime.owner_wallet().address
    from dydxctl.wallet import is_valid_address

    if not is_valid_address(address):
        raise BadInput(f"{address} is not a dydx address.", "Check --address / DYDXCTL_ADDRESS.")
    keys = list_keys(runtime, address)
    data = {"owner": address, "authenticators": [k.to_dict() for k in keys]}
    rows = [{"id": k.id, "type": k.type, "allows": k.description} for k in keys]
    render.output(
        runtime.settings.json, data,
        lambda: render.authenticators_table(rows, f"Authenticators of {address} ({len(rows)})"),
    )  # fmt: skip


@keys_app.command("remove", cls=StrictCommand)
@handles_errors
def keys_remove_command(
    ctx: typer.Context,
    authenticator_id: Annotated[int, typer.Argument(min=0, help="The id `keys list` shows.")],
) -> None:
    """Remove a trading key's authenticator (signed with the owner's mnemonic)."""
    from dydxctl.key_admin import remove_key

    runtime = runtime_of(ctx)
    result = remove_key(runtime, authenticator_id)
    render.output(
        runtime.settings.json, result,
        lambda: render.key_value_table(result.items(), title="Trading key removed"),
    )  # fmt: skip


# Registered here as `keys`, built by dydxctl.cli only when invoked (or listed by --help).
commands = typer.Typer()
commands.add_typer(keys_app, name="keys")
