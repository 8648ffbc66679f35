"""The picture in docs/development.md, checked: each module imports only its own package, the
pure-Python modules every layer may use, and the layers above it in the picture; no two modules
import each other, directly or in a loop (imports inside functions count); no module is over 600
lines."""

from __future__ import annotations

import ast
import pathlib

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src"
#: the layers, top of the picture first; a package imports only its own and those of earlier layers
LAYERS = [
    {
        "vak_tcn",
        "vak_tcn._version",
        "vak_tcn.settings",
        "vak_tcn._params",
        "vak_tcn._atomic",
        "vak_tcn._processes",
        "vak_tcn._cli_args",
    },
    {"vak_tcn.plugins"},
    {"vak_tcn.nn", "vak_tcn.metrics"},
    {"vak_tcn.audio"},
    {"vak_tcn.models"},
    {"vak_tcn.inference"},
    {"vak_tcn.live", "vak_tcn.report", "vak_tcn.experiments"},
    {"vak_tcn.cli", "vak_tcn.api"},
    {"vak_tcn.__main__"},
]
#: the one import up the picture: the package's lazy face, ``vak_tcn.load`` (imported when first used)
LAZY_FACE = ("vak_tcn", "vak_tcn.api")
MAX_LINES = 600


def _modules() -> dict[str, pathlib.Path]:
    found = {}
    for path in sorted((SRC / "vak_tcn").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _imports(name: str, path: pathlib.Path) -> set[str]:
    """The vak_tcn modules ``name`` imports, anywhere in it (``from . import x`` names x)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found |= {f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(name: str) -> tuple[int, str]:
    """(layer, unit): the unit is the package (or the layer-0 module) the module belongs to."""
    for i, units in enumerate(LAYERS):
        for unit in sorted(units, key=len, reverse=True):
            if name == unit or (unit != "vak_tcn" and name.startswith(unit + ".")):
                return i, unit
    raise AssertionError(f"{name} is in no layer of the picture: add its package to LAYERS and the docs")


def test_every_module_imports_only_its_own_package_and_the_layers_above():
    wrong = []
    for name, targets in GRAPH.items():
        layer, unit = _layer(name)
        for target in targets:
            their_layer, their_unit = _layer(target)
            if their_unit != unit and their_layer >= layer and their_layer != 0 and (name, target) != LAZY_FACE:
                wrong.append(f"{name} imports {target}")
    assert not wrong, wrong


def test_no_two_modules_import_each_other_directly_or_in_a_loop():
    # Tarjan's strongly connected components
    index, low, stack, on_stack, loops = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                loops.append(sorted(component))

    for v in GRAPH:
        if v not in index:
            visit(v)
    assert not loops, loops


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_over_600_lines(name):
    n = len(MODULES[name].read_text().splitlines())
    assert n <= MAX_LINES, f"{MODULES[name]}: {n} lines; split it by job (docs/development.md)"
