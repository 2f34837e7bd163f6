"""`dydxctl keys`: key files for the wallet. `keys new` writes a fresh BIP-39 mnemonic to a
0600 file and prints only its address, so a newcomer gets a throwaway key for the emulator
without a one-liner in another language. (Issue 16 adds `keys add|list|remove` here.)"""

from __future__ import annotations

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
    help="Key files for the wallet.",
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
