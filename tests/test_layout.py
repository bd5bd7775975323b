"""The house's layout rules, checked on the source: no import cycles (imports inside functions
count), one importer of amocrm.tasks, no `sys.path` edits, tools and benchmarks never import tests,
nothing points outside the repository, and no module grows past its size limit."""

import ast
import re
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(settings.BASE_DIR)
PACKAGES = ("accounts", "amocrm", "flower_account", "tools", "benchmarks")
SIZE_LIMITS = {"accounts": 500, "amocrm": 500, "flower_account": 500, "tools": 600, "benchmarks": 600}


def source_files(*packages: str, root: Path = BASE_DIR) -> list[Path]:
    return sorted(
        path
        for package in packages
        for path in (root / package).rglob("*.py")
        if "migrations" not in path.parts
    )


def module_name(path: Path, root: Path = BASE_DIR) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str], root: Path = BASE_DIR) -> set[str]:
    """Project modules `path` imports anywhere in it (a package's `__init__` counts as imported)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for target in targets:
            parts = target.split(".")
            # Importing a.b.c runs a/__init__ and a/b/__init__ too, except the packages this module
            # is itself part of: they are already being imported when it runs.
            found.update(".".join(parts[:n]) for n in range(1, len(parts) + 1))
    own_packages = {name.rsplit(".", n)[0] for n in range(1, name.count(".") + 1)}
    return {module for module in found if module in known and module != name and module not in own_packages}


def import_cycles(*packages: str, root: Path = BASE_DIR) -> list[list[str]]:
    files = source_files(*packages, root=root)
    known = {module_name(path, root) for path in files}
    graph = {module_name(path, root): imported_modules(path, known, root) for path in files}
    # Tarjan's strongly connected components: any with two or more modules is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_no_import_cycles_even_inside_functions():
    assert import_cycles(*PACKAGES) == []


def test_the_cycle_check_finds_a_cycle_hidden_inside_functions(tmp_path):
    loop = tmp_path / "loop"
    loop.mkdir()
    (loop / "__init__.py").write_text("")
    (loop / "a.py").write_text("def f():\n    from loop import b\n")
    (loop / "b.py").write_text("def g():\n    from loop.a import f\n")

    assert import_cycles("loop", root=tmp_path) == [["loop.a", "loop.b"]]


def test_only_the_enqueue_module_imports_the_tasks():
    files = source_files(*PACKAGES)
    known = {module_name(path) for path in files}
    importers = sorted(module_name(path) for path in files if "amocrm.tasks" in imported_modules(path, known))
    assert importers == ["amocrm.services.enqueue"]


def test_nothing_edits_sys_path():
    assert [p for p in source_files(*PACKAGES) if "sys.path" in p.read_text()] == []


def test_tools_and_benchmarks_never_import_tests():
    files = source_files("tools", "benchmarks")
    known = {module_name(path) for path in source_files("tests")} | {"tests"}
    offenders = [path for path in files if imported_modules(path, known)]
    assert offenders == []


def test_nothing_points_outside_the_repository():
    checked = [*source_files(*PACKAGES), *BASE_DIR.glob("*.md"), *(BASE_DIR / "docs").glob("*.md")]
    checked += [*(BASE_DIR / "deploy").glob("*"), *(BASE_DIR / "benchmarks").glob("*.md")]
    assert [p for p in checked if p.is_file() and "../shared" in p.read_text()] == []


def test_no_module_is_over_its_size_limit():
    too_long = {
        str(path.relative_to(BASE_DIR)): lines
        for package, limit in SIZE_LIMITS.items()
        for path in source_files(package)
        if (lines := len(path.read_text().splitlines())) > limit
    }
    assert too_long == {}


def test_amocrm_listens_to_no_model_save_of_accounts():
    # A change is told by the service that makes it (accounts.signals.profile_changed), not by a save.
    assert [p for p in source_files("amocrm") if "post_save" in p.read_text()] == []


def test_accounts_never_saves_only_to_touch_updated_at():
    touch = re.compile(r"""update_fields\s*=\s*\[\s*["']updated_at["']\s*\]""")
    assert [p for p in source_files("accounts") if touch.search(p.read_text())] == []
