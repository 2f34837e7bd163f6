"""The emulator is an independent oracle: it imports nothing from the product, and the
product imports it only to run it (`dydxctl emulator`, `dydxctl demo`)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "dydxctl"
EMULATOR = PACKAGE / "emulator"
# The only product modules that may import the emulator: the CLI (its emulator command,
# in cli_local.py) and the demo, which runs a throwaway emulator.
MAY_IMPORT_EMULATOR = {"cli_local.py", "demo.py"}


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level:
            names.append("<relative import>")
    return names


def _is_emulator(name: str) -> bool:
    return name == "dydxctl.emulator" or name.startswith("dydxctl.emulator.")


def _is_product(name: str) -> bool:
    in_package = name == "dydxctl" or name.startswith("dydxctl.")
    return name == "<relative import>" or (in_package and not _is_emulator(name))


def test_the_emulator_imports_no_product_code() -> None:
    offending = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in EMULATOR.rglob("*.py")
        for name in _imports(path)
        if _is_product(name)
    }
    assert not offending, sorted(offending)
    assert len(list(EMULATOR.rglob("*.py"))) >= 10  # the walk found the package


def test_the_product_imports_the_emulator_only_to_run_it() -> None:
    importers = {
        path.name
        for path in PACKAGE.glob("*.py")
        if any(_is_emulator(name) for name in _imports(path))
    }
    assert importers <= MAY_IMPORT_EMULATOR, importers
    assert "demo.py" in importers  # the walk sees real imports


def test_the_cli_imports_the_emulator_only_in_its_emulator_command() -> None:
    tree = ast.parse((PACKAGE / "cli_local.py").read_text())
    importing = set()
    for function in ast.walk(tree):
        if isinstance(function, ast.FunctionDef):
            for node in ast.walk(function):
                if isinstance(node, ast.ImportFrom) and _is_emulator(node.module or ""):
                    importing.add(function.name)
    top_level = [
        node
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and _is_emulator(node.module or "")
    ]
    assert importing == {"emulator_command"} and not top_level
