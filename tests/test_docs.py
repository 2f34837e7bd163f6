"""The CLI reference in docs/cli.md is generated from the Typer app and never drifts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REGENERATE = "python -m typer dydxctl.cli utils docs --name dydxctl --output docs/cli.md"


def test_cli_reference_matches_the_code(tmp_path: Path) -> None:
    fresh = tmp_path / "cli.md"
    subprocess.run(
        [sys.executable, "-m", "typer", "dydxctl.cli", "utils", "docs", "--name", "dydxctl",
         "--output", str(fresh)],
        check=True, capture_output=True, cwd=tmp_path,
    )  # fmt: skip
    committed = (ROOT / "docs" / "cli.md").read_text()
    assert fresh.read_text() == committed, f"docs/cli.md is stale; run: {REGENERATE}"


def test_every_command_is_documented() -> None:
    from dydxctl.cli import app

    text = (ROOT / "docs" / "cli.md").read_text()
    names = [c.name for c in app.registered_commands]
    assert len(names) >= 12
    for name in names:
        assert f"## `dydxctl {name}`" in text


def test_readme_starts_with_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = [b.split("```", 1)[0].strip() for b in readme.split("```sh\n")[1:3]]
    assert blocks[0].endswith("pip install . && dydxctl demo")
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = blocks[1].split("&& ")[-1]
    assert test_command in ci, "README's test command must be the one .ci/run runs"


def test_every_command_turns_errors_into_exit_codes() -> None:
    """Each command is wrapped by cli.handles_errors (no traceback, the documented code)."""
    from dydxctl.cli import app

    unwrapped = [c.name for c in app.registered_commands if not hasattr(c.callback, "__wrapped__")]
    assert unwrapped == []
