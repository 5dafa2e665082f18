"""The layering the design notes promise, checked on the source: the library never imports the CLI."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "specreg_cli"
CLI_MODULES = ("specreg_cli.cli", "specreg_cli.commands")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


LIBRARY = sorted(
    p
    for p in PACKAGE.rglob("*.py")
    if "commands" not in p.relative_to(PACKAGE).parts and p.name not in ("cli.py", "__main__.py")
)


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_library_module_does_not_import_the_cli(path):
    bad = sorted(name for name in _imports(path) if name.startswith(CLI_MODULES))
    assert not bad, f"{path.name} imports {bad}"


def test_the_check_sees_a_violation(tmp_path):
    # the scan itself must be able to fail
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from specreg_cli.commands import attack\n")
    assert "specreg_cli.commands" in _imports(module)


def test_registries_are_the_only_method_and_attack_name_lists():
    # a tuple literal of all method (or attack) names anywhere else is a copy that will drift
    from specreg_cli.attacks import ATTACK_NAMES
    from specreg_cli.methods import METHOD_NAMES

    homes = {"methods.py": METHOD_NAMES, "attacks.py": ATTACK_NAMES}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and all(
                isinstance(e, ast.Constant) for e in node.elts
            ):
                values = tuple(e.value for e in node.elts)
                for home, names in homes.items():
                    if path.name != home:
                        assert values != names, f"{path.relative_to(PACKAGE)} repeats {home}'s names"
