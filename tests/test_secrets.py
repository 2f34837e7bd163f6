"""The mnemonic never shows up: not in output, logs, the store, or error messages."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from dydxctl.emulator import Emulator
from tests.conftest import TEST_MNEMONIC, clean_env, dydxctl_argv, read_pty

# Any three consecutive words of the phrase would betray it.
FRAGMENTS = [" ".join(TEST_MNEMONIC.split()[i : i + 3]) for i in range(0, 22)]


def _run(emu: Emulator, tmp: Path, *args: str, env: dict[str, str] | None = None) -> str:
    command = dydxctl_argv(
        emu, tmp / "orders.db", "--debug", "-v", "--log-file", str(tmp / "dydxctl.log"), *args
    )
    result = subprocess.run(command, capture_output=True, text=True, timeout=60,
                            env=clean_env(**(env or {})))  # fmt: skip
    return result.stdout + result.stderr


def _assert_clean(text: str, where: str) -> None:
    for fragment in FRAGMENTS:
        assert fragment not in text, f"mnemonic words {fragment!r} leaked into {where}"


def test_mnemonic_never_leaks(emulator: Emulator, tmp_path: Path) -> None:
    env = {"DYDX_MNEMONIC": TEST_MNEMONIC}
    outputs = [
        _run(emulator, tmp_path, "address", env=env),
        _run(emulator, tmp_path, "--json", "place", "--market", "BTC-USD", "--side", "buy",
             "--size", "0.001", "--price", "50000", "--good-til-blocks", "5", env=env),
    ]  # fmt: skip
    # Error paths with --debug print tracebacks: they must not carry the phrase either.
    emulator.fail_next("BroadcastTx", codespace="clob", code=10001)
    outputs.append(_run(emulator, tmp_path, "place", "--market", "BTC-USD", "--side", "sell",
                        "--size", "0.001", "--price", "60000", env=env))  # fmt: skip
    bad = TEST_MNEMONIC.rsplit(" ", 1)[0] + " abandon"
    outputs.append(_run(emulator, tmp_path, "address", env={"DYDX_MNEMONIC": bad}))
    secret_file = tmp_path / "m.txt"
    secret_file.write_text(TEST_MNEMONIC)
    secret_file.chmod(0o644)
    outputs.append(_run(emulator, tmp_path, "--mnemonic-file", str(secret_file), "address"))
    secret_file.chmod(0o600)
    outputs.append(_run(emulator, tmp_path, "--mnemonic-file", str(secret_file), "cancel",
                        "--all"))  # fmt: skip
    # A mnemonic can never be an argument value: the option does not exist.
    refused = _run(emulator, tmp_path, "--mnemonic", TEST_MNEMONIC, "address")
    assert "No such option" in refused
    outputs.append(refused)

    # A phrase typed where it does not belong, with --debug -v and a log file.
    other = "legal winner thank year wave sausage worth useful legal winner thank yellow"
    outputs.append(_run(emulator, tmp_path, "show", other, env=env))
    outputs.append(_run(emulator, tmp_path, "--indexer", other, "markets", env=env))
    outputs.append(_run(emulator, tmp_path, "address", *other.split(), env=env))
    for text in outputs[-3:]:
        assert "legal winner thank" not in text and "[redacted: looks like a mnemonic]" in text
    assert "legal winner thank" not in (tmp_path / "dydxctl.log").read_text()

    assert "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art" in outputs[0]
    assert "Traceback" in outputs[2]  # --debug did show the rejection's traceback
    for i, text in enumerate(outputs):
        _assert_clean(text, f"run {i} output")
    log = tmp_path / "dydxctl.log"
    assert "place" in log.read_text()
    _assert_clean(log.read_text(), "the log file")
    for name in ("orders.db", "orders.db-wal"):
        path = tmp_path / name
        if path.exists():
            _assert_clean(path.read_bytes().decode("latin-1"), name)
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "orders.db").stat().st_mode) == 0o600


def test_hidden_prompt_on_a_terminal(tmp_path: Path) -> None:
    """On a TTY with no other source, the mnemonic is read at a prompt that does not echo."""
    import pty

    env = clean_env(DYDXCTL_DB=str(tmp_path / "orders.db"), XDG_CONFIG_HOME=str(tmp_path))
    pid, fd = pty.fork()
    if pid == 0:  # the child: dydxctl with the pty as its controlling terminal
        os.execve(sys.executable, [sys.executable, "-m", "dydxctl", "address"], env)

    prompt = read_pty(fd, b"Mnemonic (hidden):")
    assert b"Mnemonic (hidden):" in prompt
    os.write(fd, TEST_MNEMONIC.encode() + b"\n")
    rest = read_pty(fd, b"dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art" in rest
    _assert_clean((prompt + rest).decode("utf-8", "replace"), "the terminal")


def test_runtime_repr_hides_the_environment_and_the_wallet(tmp_path: Path) -> None:
    from dydxctl.config import resolve
    from dydxctl.runtime import Runtime

    settings = resolve({"db": str(tmp_path / "o.db")}, {"XDG_CONFIG_HOME": str(tmp_path)})
    runtime = Runtime(settings, env={"DYDX_MNEMONIC": TEST_MNEMONIC})
    runtime.wallet()
    for text in (repr(runtime), str(runtime), repr(runtime.wallet())):
        _assert_clean(text, "a repr")
        assert "DYDX_MNEMONIC" not in text
    runtime.close()


CORE_DUMP_PROBE = """
import ctypes, json, resource, sys
from dydxctl.runtime import Runtime
from dydxctl.config import resolve
libc = ctypes.CDLL(None)
PR_GET_DUMPABLE = 3
before = (resource.getrlimit(resource.RLIMIT_CORE)[0], libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))
rt = Runtime(resolve({"db": sys.argv[1]}, {}), env={"DYDX_MNEMONIC": sys.argv[2]})
rt.wallet()
after = (resource.getrlimit(resource.RLIMIT_CORE)[0], libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))
print(json.dumps([before, after]))
"""


def test_core_dumps_are_off_once_a_key_is_loaded(tmp_path: Path) -> None:
    """RLIMIT_CORE 0 and PR_SET_DUMPABLE 0 (Linux), checked in a fresh process that starts
    with core dumps allowed (as far as the hard limit lets it)."""
    import resource

    hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
    allowed = 1 << 20 if hard == resource.RLIM_INFINITY else hard

    def allow_core_dumps() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (allowed, hard))

    result = subprocess.run(
        [sys.executable, "-c", CORE_DUMP_PROBE, str(tmp_path / "o.db"), TEST_MNEMONIC],
        capture_output=True, text=True, timeout=60, env=clean_env(), preexec_fn=allow_core_dumps,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    before, after = json.loads(result.stdout)
    assert before == [allowed, 1]  # the child started with core dumps on, dumpable
    assert after == [0, 0]  # RLIMIT_CORE 0, not dumpable


def test_keys_new_writes_a_0600_file_and_prints_only_the_address(tmp_path: Path) -> None:
    out = tmp_path / "key.txt"
    env = clean_env(XDG_CONFIG_HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path))
    run = [sys.executable, "-m", "dydxctl", "keys", "new", "--out", str(out)]
    result = subprocess.run(run, capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 0, result.stderr
    address = result.stdout.strip()
    assert address.startswith("dydx1") and len(result.stdout.split()) == 1
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    phrase = out.read_text().strip()
    assert len(phrase.split()) == 24 and phrase not in result.stdout + result.stderr
    # The file is a working key: `address` reads it back to the same address.
    shown = subprocess.run(
        [sys.executable, "-m", "dydxctl", "--mnemonic-file", str(out), "address", "--json"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert json.loads(shown.stdout)["address"] == address
    # Never overwritten: exit 2, the file as it was.
    again = subprocess.run([*run, "--json"], capture_output=True, text=True, timeout=60, env=env)
    assert (
        again.returncode == 2 and "already exists" in json.loads(again.stdout)["error"]["message"]
    )
    assert out.read_text().strip() == phrase


TRADING_KEY_HEX = "5a" * 32


def test_trading_key_never_leaks(emulator: Emulator, tmp_path: Path) -> None:
    """The trading key follows the mnemonic's rules: not in output, logs, the store or
    errors (with --debug tracebacks), never an option value, file 0600."""
    from dydxctl import authenticators as auth
    from dydxctl.wallet import Wallet

    trader = Wallet(bytes.fromhex(TRADING_KEY_HEX))
    with emulator.state.lock:
        auth_id = emulator.state.accountplus.add(
            "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art", *auth.trading_key(trader.public_key)
        )
    key_file = tmp_path / "trader.key"
    key_file.write_text("0x" + TRADING_KEY_HEX + "\n")
    key_file.chmod(0o600)
    base = ["--address", "dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art",
            "--trading-key-file", str(key_file)]  # fmt: skip
    order = ["place", "--market", "BTC-USD", "--side", "buy", "--size", "0.001", "--price",
             "50000", "--good-til-blocks", "5"]  # fmt: skip
    outputs = [_run(emulator, tmp_path, "--json", *base, *order)]
    assert f'"authenticator_id": {auth_id}' in outputs[0]
    emulator.fail_next("BroadcastTx", codespace="dydxaccountplus", code=104)
    outputs.append(_run(emulator, tmp_path, *base, "--authenticator-id", "9", *order))
    outputs.append(_run(emulator, tmp_path, *base, "cancel", "--all"))
    key_file.chmod(0o640)
    outputs.append(_run(emulator, tmp_path, *base, *order))
    key_file.chmod(0o600)
    outputs.append(_run(emulator, tmp_path, "--trading-key", TRADING_KEY_HEX, "address"))
    assert "No such option" in outputs[-1]
    assert "Traceback" in outputs[1]
    texts = [*outputs, (tmp_path / "dydxctl.log").read_text()]
    texts += [(tmp_path / n).read_bytes().decode("latin-1") for n in ("orders.db", "orders.db-wal")
              if (tmp_path / n).exists()]  # fmt: skip
    for i, text in enumerate(texts):
        assert TRADING_KEY_HEX not in text.replace("0x", ""), f"the trading key leaked ({i})"
    probe = (
        "import resource; from pathlib import Path; from dydxctl.trading_key import "
        f"load_trading_signer; load_trading_signer(Path(r'{key_file}'), "
        "'dydx14zzueazeh0hj67cghhf9jypslcf9sh2n5k6art', 0); "
        "print(resource.getrlimit(resource.RLIMIT_CORE)[0])"
    )
    core = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert core.stdout.strip() == "0", core.stderr


def test_a_private_key_typed_into_an_option_is_redacted(emulator: Emulator, tmp_path: Path) -> None:
    """A trading key pasted where an address belongs is not echoed back by the refusal."""
    refused = _run(emulator, tmp_path, "--address", "0x" + TRADING_KEY_HEX, "keys", "list")
    assert TRADING_KEY_HEX not in refused and "redacted: looks like a private key" in refused


def test_a_private_key_is_redacted_in_any_case_but_tx_hashes_stay() -> None:
    """trading_key accepts a hex key in any case; only dydxctl's own upper-case tx hashes
    (no 0x) pass the redactor unchanged."""
    from dydxctl.redact import PRIVATE_KEY_REDACTED, scrub

    key = "a1" * 32
    mixed = "A1" + "b2" * 31
    for text in (key, "0x" + key, "0x" + key.upper(), mixed):
        assert scrub(f"bad value {text}!") == f"bad value {PRIVATE_KEY_REDACTED}!"
    tx_hash = "AB" * 32
    assert scrub(f"tx {tx_hash}") == f"tx {tx_hash}"
