"""The package's layers: imports point downward only, and the library imports at the top of a module."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Commands import the library inside their functions, so that `kerasner --help` answers at once.
LAZY = ("kerasner.cli", "kerasner.commands")


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    if parts[0] == "callbacks":
        parts = ("kerasner", *parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports():
    """module -> [(imported kerasner module, at the top level?)] for every module of the package."""
    found = {}
    for path in [*ROOT.glob("kerasner/**/*.py"), *ROOT.glob("callbacks/*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {id(node) for node in tree.body}
        edges = []
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("kerasner"):
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names if alias.name.startswith("kerasner")]
            else:
                continue
            edges += [(name, id(node) in top) for name in names]
        found[module_name(path)] = edges
    return {module: [(name, at_top) for name, at_top in edges if name in found and name != module] for module, edges in found.items()}


def test_no_module_imports_one_that_imports_it():
    graph = {module: {name for name, _ in edges if name != "kerasner"} for module, edges in imports().items()}
    done, cycles = set(), []

    def visit(module, path):
        for name in graph[module]:
            if name in path:
                cycles.append(" -> ".join([*path[path.index(name):], name]))
            elif name not in done:
                visit(name, [*path, name])
        done.add(module)

    for module in sorted(graph):
        visit(module, [module])
    assert not cycles


def library_imports():
    """`(module, imported module, at the top level?)` for every import in the library, the commands aside."""
    return [
        (module, name, at_top)
        for module, edges in imports().items()
        if not module.startswith(LAZY)
        for name, at_top in edges
    ]


def test_the_library_imports_at_the_top_of_its_modules():
    assert [f"{module} imports {name} in a function" for module, name, at_top in library_imports() if not at_top] == []


def test_the_library_does_not_import_the_commands():
    assert [f"{module} imports {name}" for module, name, _ in library_imports() if name.startswith(LAZY)] == []
