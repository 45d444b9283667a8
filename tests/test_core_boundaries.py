"""Package boundaries, read from the source (every import, at module level or inside a function):
the core knows nothing of Textual or Rich, and the API and the load generator know nothing of the console."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "streamflow_tui" / "core"


def _module_of(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path, root: Path = REPO) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in ``path``: ``import x``, ``from x import y``,
    relative imports resolved against the file's package, and ``importlib.import_module("x")`` /
    ``__import__("x")`` with a literal name."""
    module = _module_of(path, root)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            yield node.lineno, name
            yield from ((node.lineno, f"{name}.{a.name}") for a in node.names if a.name != "*")
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value


def offenders(folder: Path, forbidden: tuple[str, ...], root: Path = REPO) -> list[str]:
    files = sorted(folder.rglob("*.py"))
    assert files, f"no Python files under {folder}"
    found = set()
    for path in files:
        for line, name in imported(path, root):
            if name.split(".")[0] in forbidden:
                found.add(f"{path.relative_to(root)}:{line}: {name}")
    return sorted(found)


def test_core_imports_no_textual():
    assert offenders(CORE, ("textual", "rich")) == []


def test_the_api_and_the_load_generator_never_import_the_console():
    for folder in ("api", "loadgen"):
        assert offenders(REPO / folder, ("streamflow_tui",)) == [], f"{folder}/ imports the console"


def test_the_import_reader_sees_every_form(tmp_path):
    """What the checks above would catch: imports at module level, inside functions, relative, dynamic."""
    pkg = tmp_path / "streamflow_tui" / "core"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "probe.py").write_text(
        "import json\n"
        "from rich.text import Text\n"
        "def later():\n"
        "    import textual.app\n"
        "    from .. import widgets\n"
        "    from ..app import create_app\n"
        "    import importlib\n"
        "    return importlib.import_module('textual.widgets'), __import__('rich')\n"
    )
    assert offenders(pkg, ("textual", "rich"), tmp_path) == [
        "streamflow_tui/core/probe.py:2: rich.text",
        "streamflow_tui/core/probe.py:2: rich.text.Text",
        "streamflow_tui/core/probe.py:4: textual.app",
        "streamflow_tui/core/probe.py:8: rich",
        "streamflow_tui/core/probe.py:8: textual.widgets",
    ]
    assert offenders(pkg, ("streamflow_tui",), tmp_path) == [
        "streamflow_tui/core/probe.py:5: streamflow_tui",
        "streamflow_tui/core/probe.py:5: streamflow_tui.widgets",
        "streamflow_tui/core/probe.py:6: streamflow_tui.app",
        "streamflow_tui/core/probe.py:6: streamflow_tui.app.create_app",
    ]
