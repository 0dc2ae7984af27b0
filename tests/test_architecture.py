"""Layering rules from DESIGN.md, checked on the source: ledger never reaches Slack; handlers stay glue; builders
and handlers read the ledger's read models, never its rows."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = ROOT / "bot" / "handlers"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    module = module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    return imports_in(path.read_text(encoding="utf-8"), package=package)


def imports_in(source: str, *, package: str) -> set[str]:
    """Every module a source imports, at any depth (inside functions and ``if TYPE_CHECKING`` too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing package
                parts = package.split(".")
                base = parts[: len(parts) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names}
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(str(node.args[0].value))
    return found


def forbidden(modules: set[str], roots: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in roots)


def within(modules: set[str], package: str) -> list[str]:
    """The imports of ``package`` itself or of anything inside it."""
    return sorted(m for m in modules if m == package or m.startswith(f"{package}."))


def python_files(directory: Path) -> list[Path]:
    files = sorted(directory.rglob("*.py"))
    assert files, f"no Python files under {directory}"
    return files


@pytest.mark.parametrize("path", python_files(ROOT / "ledger"), ids=lambda p: str(p.relative_to(ROOT)))
def test_ledger_does_not_depend_on_slack(path: Path):
    assert forbidden(imported_modules(path), ("slack_bolt", "slack_sdk", "bot")) == []


@pytest.mark.parametrize("path", python_files(HANDLERS), ids=lambda p: p.name)
def test_handlers_hold_no_sql_or_http(path: Path):
    assert forbidden(imported_modules(path), ("sqlalchemy", "httpx")) == []


@pytest.mark.parametrize("path", python_files(ROOT / "bot" / "blocks"), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_orm_model_reaches_the_block_builders(path: Path):
    """Builders read the ledger's read models (``ledger.read_models``), never its rows."""
    assert within(imported_modules(path), "ledger.models") == []


@pytest.mark.parametrize("path", python_files(HANDLERS), ids=lambda p: p.name)
def test_no_orm_model_reaches_the_handlers(path: Path):
    assert within(imported_modules(path), "ledger.models") == []


@pytest.mark.parametrize(
    "path",
    [p for p in python_files(HANDLERS) if p.stem not in ("__init__", "common")],
    ids=lambda p: p.name,
)
def test_every_handler_module_has_register(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top_level = {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    assert "register" in top_level, f"{path.name} must define a top-level register(app, settings)"


def test_the_checker_sees_every_kind_of_import():
    source = (
        "import slack_sdk.web\n"
        "from bot import app\n"
        "from . import flows\n"
        "from ..errors import LedgerError\n"
        "def f():\n"
        "    from slack_bolt.async_app import AsyncApp\n"
        "    importlib.import_module('bot.ids')\n"
    )
    modules = imports_in(source, package="ledger.contaazul")
    assert forbidden(modules, ("slack_bolt", "slack_sdk", "bot")) == [
        "bot",
        "bot.app",
        "bot.ids",
        "slack_bolt.async_app",
        "slack_bolt.async_app.AsyncApp",
        "slack_sdk.web",
    ]
    assert {"ledger.contaazul.flows", "ledger.errors.LedgerError"} <= modules


# The CLI's `demo` subcommand is the one door into the development tools from the app's own code.
DEV_TOOL_DOORS = {ROOT / "bot" / "__main__.py"}


@pytest.mark.parametrize(
    "path",
    [p for p in python_files(ROOT / "bot") if "dev" not in p.relative_to(ROOT).parts and p not in DEV_TOOL_DOORS]
    + python_files(ROOT / "ledger"),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_the_running_app_never_imports_the_development_tools(path: Path):
    assert within(imported_modules(path), "bot.dev") == []


@pytest.mark.parametrize("path", python_files(ROOT / "bench"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_benchmark_does_not_import_the_tests(path: Path):
    assert forbidden(imported_modules(path), ("tests",)) == []


# --------------------------------------------------------------------------- the ledger's public surface


def test_the_ledger_exports_a_public_surface_that_resolves():
    import ledger

    assert ledger.__all__ == sorted(ledger.__all__, key=lambda n: (n[0].islower(), n)), "keep __all__ sorted"
    assert len(set(ledger.__all__)) == len(ledger.__all__)
    missing = [name for name in ledger.__all__ if not hasattr(ledger, name)]
    assert missing == []


def test_everything_public_in_the_ledger_package_is_in_all():
    """In the manner of httpx: a name reachable as ``ledger.X`` is either a submodule or listed in ``__all__``."""
    import types

    import ledger

    public = {
        name
        for name, value in vars(ledger).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert public == set(ledger.__all__)


@pytest.mark.parametrize("path", python_files(HANDLERS), ids=lambda p: p.name)
def test_handlers_use_only_the_ledgers_public_surface(path: Path):
    """Listeners reach the ledger through ``ledger`` (its ``__all__``), never its modules or the Conta Azul client."""
    reached = sorted(m for m in imported_modules(path) if m.split(".")[0] == "ledger" and m.count(".") >= 1)
    import ledger

    assert [m for m in reached if m.split(".", 1)[1] not in ledger.__all__] == []


@pytest.mark.parametrize("path", [p for p in python_files(HANDLERS) if p.name != "__init__.py"], ids=lambda p: p.name)
def test_handler_modules_do_not_import_each_other(path: Path):
    """What two listeners share lives outside ``bot/handlers`` (``bot/home_tab.py``, ``bot/middleware.py``…)."""
    assert [m for m in imported_modules(path) if m.startswith("bot.handlers")] == []
