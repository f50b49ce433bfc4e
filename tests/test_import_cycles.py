"""Every import runs downward: no two of the project's modules import each other at load time.

Imports under `if TYPE_CHECKING:` (types only) and imports inside functions (run later, on call) do
not count; everything else a module imports when it is loaded does, packages' `__init__` included.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hub", "customers", "surveys", "integrations", "insights", "testimonials", "actions")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    }


def _type_checking_block(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _load_time_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """The imports a module runs when it is loaded: not inside a function, not for type checking."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) and not (
            _type_checking_block(node)
        ):
            pending.extend(ast.iter_child_nodes(node))
    return found


def _with_packages(name: str, modules: dict[str, Path]) -> set[str]:
    """Importing a.b.c loads a, a.b and a.b.c."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)} & modules.keys()


def _graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        # A module's own packages are loading already when it loads (Python imports a.b before a.b.c):
        # going through them to a sibling adds nothing; reading a name their __init__ defines does.
        own = _with_packages(name, modules) - {name}
        targets: set[str] = set()
        for node in _load_time_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    targets |= (_with_packages(alias.name, modules) - own) | ({alias.name} & own)
                continue
            base = node.module or ""
            if node.level:  # from .celery import app, inside the package hub
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *filter(None, [node.module])])
            targets |= _with_packages(base, modules) - own
            # `from a import b` loads the module a.b when there is one, else reads the name b of a.
            submodules = {f"{base}.{alias.name}" for alias in node.names} & modules.keys()
            if base in own and len(submodules) < len(node.names):
                targets.add(base)
            for submodule in submodules:
                targets |= _with_packages(submodule, modules) - own
        graph[name] = targets - {name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
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
    return sorted(found)


def test_the_walk_sees_the_imports_a_module_runs_when_it_is_loaded() -> None:
    graph = _graph(_modules())

    assert {"hub.crypto", "integrations.base"} <= graph["integrations.models"]
    assert "integrations.http" not in graph["integrations.base"]  # only under TYPE_CHECKING
    assert "customers.models" not in graph["customers.apps"]  # only inside ready()
    assert "hub.celery" in graph["hub"]  # from .celery import app


def test_a_module_reaching_a_sibling_through_its_package_is_no_circle(tmp_path: Path) -> None:
    files = {
        "pkg": ("__init__.py", "from pkg import a, b, c\nVERSION = 1\n"),
        "pkg.a": ("a.py", "from pkg.b import thing\n"),
        "pkg.b": ("b.py", "thing = 1\n"),
        "pkg.c": ("c.py", "from pkg import VERSION\n"),  # read before __init__ defines it
    }
    modules = {}
    for name, (file, text) in files.items():
        modules[name] = tmp_path / file
        modules[name].write_text(text)

    graph = _graph(modules)

    assert graph["pkg.a"] == {"pkg.b"}
    assert _cycles(graph) == [["pkg", "pkg.c"]]


def test_a_circle_of_imports_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_two_modules_of_the_project_import_each_other_when_loaded() -> None:
    assert _cycles(_graph(_modules())) == []
