"""The packages import each other in one direction only: no module imports itself back through others."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("service", "subscribers")


def module_files() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # Alembic loads these by path, never by import
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `name` imports, wherever the import statement sits (late imports count)."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            # `from a import b` imports the module a.b when there is one, else the name b of module a.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = module_files()
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first repeated at the end), or None."""
    done: set[str] = set()
    stack: list[str] = []
    on_stack: set[str] = set()

    def visit(node: str) -> list[str] | None:
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target in on_stack:
                return stack[stack.index(target) :] + [target]
            if target not in done:
                cycle = visit(target)
                if cycle:
                    return cycle
        on_stack.discard(stack.pop())
        done.add(node)
        return None

    for node in sorted(graph):
        if node not in done:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_it_finds_a_cycle_when_there_is_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def part_of(module: str) -> str:
    """The part a module belongs to: a subpackage of service/ (service.web), a module at the top of
    service/ (service.config), or subscribers."""
    return ".".join(module.split(".")[:2]) if module.startswith("service.") else module.split(".")[0]


def part_graph() -> dict[str, set[str]]:
    """Which parts import which: one edge per pair of parts, however many modules make it."""
    parts: dict[str, set[str]] = {}
    for name, targets in import_graph().items():
        here = part_of(name)
        parts.setdefault(here, set()).update(part_of(target) for target in targets if part_of(target) != here)
    return parts


# What each lower part may import: model is under everything, store sees only model, the
# subscriber domain only the store and what lies under it.
BELOW = {
    "service.errors": set(),
    "service.model": {"service.errors"},
    "service.clock": set(),
    "service.templating": set(),
    "service.smtp_url": set(),
    "service.config": {"service.errors", "service.model", "service.smtp_url"},
    "service.store": {"service.errors", "service.model"},
    "subscribers": {
        "service.errors",
        "service.model",
        "service.store",
        "service.config",
        "service.templating",
        "service.clock",
    },
    "service.runtime": {"service.errors", "service.model", "service.store", "service.config", "service.clock"},
}
# Only these use the parts; no part imports them.
TOP = {"service.cli", "service.web", "service.scheduler"}


def test_it_reads_the_imports_of_the_tree():
    graph = import_graph()
    assert "service.web.extensions" in graph["service.web.public.subscribe"]
    assert "service.web.public.subscribe" in graph["service.web"]
    assert "service.store" in graph["service.runtime"]
    parts = part_graph()
    assert "service.store" in parts["subscribers"] and "subscribers" in parts["service.digest"]


def test_no_module_imports_itself_back():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_two_parts_import_each_other_even_round_about():
    cycle = find_cycle(part_graph())
    assert cycle is None, "parts importing each other: " + " -> ".join(cycle)


def test_the_lower_parts_import_only_what_lies_under_them():
    parts = part_graph()
    for part, allowed in BELOW.items():
        assert parts.get(part, set()) <= allowed, f"{part} imports {sorted(parts[part] - allowed)}"


def test_only_the_command_line_the_web_and_the_scheduler_use_them():
    users = {part: targets & TOP for part, targets in part_graph().items() if part not in TOP and targets & TOP}
    assert not users, users


def test_the_web_extensions_are_a_leaf():
    graph = import_graph()
    assert not {name for name in graph["service.web.extensions"] if name.startswith("service.web")}


def test_no_package_holds_more_than_fifteen_modules():
    packages = [ROOT / "subscribers", *(path.parent for path in (ROOT / "service").rglob("__init__.py"))]
    for package in packages:
        if "migrations" in package.parts:
            continue
        modules = [path for path in package.glob("*.py") if path.name != "__init__.py"]
        limit = 12 if package == ROOT / "service" else 15
        assert len(modules) <= limit, f"{package.relative_to(ROOT)} holds {len(modules)} modules"


def test_every_package_is_installed():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for package in PACKAGES
        for path in (ROOT / package).rglob("__init__.py")
        if "migrations" not in path.parts
    }
    assert on_disk <= listed, f"packages missing from pyproject.toml: {sorted(on_disk - listed)}"
