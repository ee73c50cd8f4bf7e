"""The package's layers: imports point down only, and no module imports itself through others.

Every import of a ``sim`` module counts, at the top of a file or inside a function: a lazy import
cannot hide a circle or an upward arrow from this test.
"""

import ast
from pathlib import Path

from conftest import ROOT

LAYERS = ["core", "model", "engines", "io", "analysis", "data", "ui"]
"""Bottom to top: a module may import its own subpackage and the ones below it, never one above."""


def import_graph() -> dict[str, set[str]]:
    """module (``sim.pkg.mod``) -> the ``sim`` modules it imports, from the source of every file."""
    graph = {}
    for path in (ROOT / "sim").rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "sim":
                assert node.level == 0, f"{name}: a relative import ({node.module})"
                deps.add(node.module)
                deps.update(f"{node.module}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.split(".")[0] == "sim")
            elif isinstance(node, ast.ImportFrom) and node.level:
                raise AssertionError(f"{name}: a relative import")
        graph[name] = deps
    return {m: {d for d in deps if d in graph and d != m} for m, deps in graph.items()}


def layer(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else None


def test_every_module_sits_in_a_layer():
    stray = [m for m in import_graph() if layer(m) is None and m not in ("sim", "sim.__main__")]
    assert not stray, f"modules outside the layers {LAYERS}: {stray}"


def upward(graph: dict[str, set[str]]) -> list[str]:
    """``a -> b`` for every import of a module in a layer above the importer's."""
    return sorted(f"{m} -> {d}" for m, deps in graph.items() for d in deps
                  if layer(m) is not None and layer(d) is not None and layer(d) > layer(m))


def circles(graph: dict[str, set[str]]) -> list[str]:
    """Every cycle a depth-first walk meets, as ``a -> b -> a``."""
    found, state = [], {}

    def visit(m, path):
        state[m] = "open"
        for d in sorted(graph.get(m, ())):
            if state.get(d) == "open":
                found.append(" -> ".join(path[path.index(d):] + [d]))
            elif d not in state:
                visit(d, path + [d])
        state[m] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    return found


def test_imports_point_down_only():
    found = upward(import_graph())
    assert not found, "imports that point up a layer:\n" + "\n".join(found)


def test_no_module_imports_itself_through_others():
    found = circles(import_graph())
    assert not found, "import circles:\n" + "\n".join(found)


def test_the_test_finds_what_it_guards():
    """The checks catch what they guard, on a graph made to hold an upward import and a circle."""
    graph = {"sim.model.a": {"sim.ui.b"}, "sim.ui.b": {"sim.model.a"}}
    assert upward(graph) == ["sim.model.a -> sim.ui.b"]
    assert circles(graph) == ["sim.model.a -> sim.ui.b -> sim.model.a"]


MODULE_LINES, FUNCTION_LINES = 400, 60
REASON = "Longer than"  # a module's docstring, or a function's, that says why it is longer: "Longer than ...: why"


def test_no_module_or_function_is_long_without_a_reason():
    """Small pieces: no module over 400 lines and no function over 60, unless its docstring says why."""
    long = []
    for path in (ROOT / "sim").rglob("*.py"):
        source = path.read_text()
        tree = ast.parse(source)
        name = path.relative_to(ROOT)
        if len(source.splitlines()) > MODULE_LINES and REASON not in (ast.get_docstring(tree) or ""):
            long.append(f"{name}: {len(source.splitlines())} lines")
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = node.end_lineno - node.lineno + 1
                if size > FUNCTION_LINES and REASON not in (ast.get_docstring(node) or ""):
                    long.append(f"{name}:{node.lineno} {node.name}: {size} lines")
    assert not long, "too long, with no reason given:\n" + "\n".join(sorted(long))


CROSS_CUTTING = "invariants"  # tests that guard the whole model (merging, units, seeds, classics, layers)


def test_tests_mirror_the_layout():
    """Each test sits in the folder of the layer it tests, or with the cross-cutting ones: a test file
    left at the top, or in a folder no layer has, is one a newcomer cannot find."""
    tests = Path(__file__).resolve().parents[1]
    stray = [p.relative_to(tests).as_posix() for p in tests.rglob("test_*.py")
             if p.parent.name not in (*LAYERS, CROSS_CUTTING) or p.parent.parent != tests]
    assert stray == []
    assert {p.name for p in tests.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))} <= {
        *LAYERS, CROSS_CUTTING}
