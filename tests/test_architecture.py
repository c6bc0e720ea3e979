"""The import layers of docs/architecture.md, checked on the code itself.

A small walk over every module's syntax tree (imports inside functions and under
``TYPE_CHECKING`` included: a lazy import is still a dependency) gives the graph of
dissent's own imports. The rules: no module imports a higher layer, no blueprint
imports another blueprint, and no two modules import each other, directly or round a
longer circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "dissent"

BLUEPRINTS = (
    "public",
    "source",
    "staff",
    "adviser",
    "attachments",
    "leadership",
    "oversight",
    "admin",
)
# Bottom to top; a module may import its own layer and the layers below it.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("crypto", ("dissent.crypto",)),
    ("foundation", ("dissent.config", "dissent.database", "dissent.locations")),
    ("models", ("dissent.models",)),
    ("services", ("dissent.services", "dissent.migrate")),
    ("extensions", ("dissent.extensions",)),
    ("security", ("dissent.security",)),
    ("web", ("dissent.web",)),
    ("blueprints", tuple(f"dissent.{name}" for name in BLUEPRINTS)),
    ("entry", ("dissent.app", "dissent.cli", "dissent")),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def all_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Return the dissent modules that ``name`` imports."""
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(name, is_package, node)
            # `from . import audit` names a module; `from .models import Role` a name.
            targets = [
                f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t == "dissent" or t.startswith("dissent."))
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {name: imports_of(name, path, modules) & set(modules) for name, path in modules.items()}


def layer_of(module: str) -> int:
    best, index = "", -1
    for position, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > len(best):
                best, index = prefix, position
    return index


def blueprint_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in BLUEPRINTS else None


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Return the strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_every_module_has_a_layer(graph):
    assert [module for module in graph if layer_of(module) < 0] == []


def test_no_module_imports_a_higher_layer(graph):
    upward = sorted(
        f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
        for module, targets in graph.items()
        for target in targets
        if layer_of(target) > layer_of(module)
    )
    assert upward == []


def test_no_blueprint_imports_another(graph):
    crossing = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        if blueprint_of(module) and blueprint_of(target) not in (None, blueprint_of(module))
    )
    assert crossing == []


def test_no_import_cycles(graph):
    assert cycles(graph) == []


def test_only_crypto_imports_hazmat():
    offenders = sorted(
        name
        for name, path in all_modules().items()
        if not name.startswith("dissent.crypto")
        and "cryptography.hazmat" in path.read_text(encoding="utf-8")
    )
    assert offenders == []


@pytest.mark.parametrize("blueprint", BLUEPRINTS)
def test_blueprints_share_one_layout(blueprint):
    """Each interface: its routes and ``bp`` in views.py, its templates in its own folder."""
    folder = PACKAGE / blueprint
    views = ast.parse((folder / "views.py").read_text(encoding="utf-8"))
    assigned = {
        target.id
        for node in views.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    assert "bp" in assigned, f"dissent/{blueprint}/views.py defines no blueprint"
    route_modules = sorted(
        path.name
        for path in folder.glob("*.py")
        if path.name != "views.py" and ".route(" in path.read_text(encoding="utf-8")
    )
    assert route_modules == [], "routes belong in views.py"
    assert (ROOT / "templates" / blueprint).is_dir()


# --- the tests mirror the code -------------------------------------------------------------

TESTS = ROOT / "tests"


def has_logic(path: Path) -> bool:
    """Return whether a module defines a function or method (not only declarations)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) for node in ast.walk(tree))


def mirror_of(path: Path) -> Path:
    """Return the test file of a module: tests/<package>/test_<module>.py.

    A leading underscore is dropped (``crypto/_armor.py`` -> ``tests/crypto/test_armor.py``);
    a package's ``__init__.py`` is tested by ``test_<package>.py`` beside it.
    """
    relative = path.relative_to(PACKAGE)
    folder = TESTS.joinpath(*relative.parts[:-1])
    stem = relative.stem
    if stem == "__init__":
        stem = relative.parts[-2] if len(relative.parts) > 1 else "dissent"
        folder = folder.parent if len(relative.parts) > 1 else TESTS
        folder = folder / relative.parts[-2] if len(relative.parts) > 1 else folder
    return folder / f"test_{stem.lstrip('_')}.py"


def test_every_module_with_logic_has_its_test_file():
    missing = [
        str(mirror_of(path).relative_to(ROOT))
        for path in sorted(PACKAGE.rglob("*.py"))
        if has_logic(path) and not mirror_of(path).exists()
    ]
    assert not missing, f"modules without their test file: {missing}"


def test_no_test_module_imports_another():
    """Shared helpers live in tests/helpers/ or conftest.py, never in a test module."""
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                target = node.module or ""
                if node.level:
                    offenders.append(f"{path.relative_to(ROOT)}: relative import of {target}")
                elif target.startswith("tests.") and not target.startswith("tests.helpers"):
                    offenders.append(f"{path.relative_to(ROOT)}: imports {target}")
            elif isinstance(node, ast.Import):
                offenders += [
                    f"{path.relative_to(ROOT)}: imports {alias.name}"
                    for alias in node.names
                    if alias.name.startswith("tests.")
                    and not alias.name.startswith("tests.helpers")
                ]
    assert not offenders, offenders


def test_the_mirror_rule_names_the_expected_files():
    assert mirror_of(PACKAGE / "crypto" / "_armor.py") == TESTS / "crypto" / "test_armor.py"
    assert mirror_of(PACKAGE / "services" / "keyring.py") == TESTS / "services" / "test_keyring.py"
    assert mirror_of(PACKAGE / "cli" / "__init__.py") == TESTS / "cli" / "test_cli.py"
    assert mirror_of(PACKAGE / "__init__.py") == TESTS / "test_dissent.py"
