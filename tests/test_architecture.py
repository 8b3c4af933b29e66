"""The one-way rule of docs/ARCHITECTURE.md, read from the source with ``ast``.

front-ends (cli, tour, explore) -> experiments -> (train, metrics, viz)
-> (models, data, fourier, diffusion, signals) -> conv -> torch; no import cycles; only viz imports matplotlib.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "convscope"

# layer of each top-level module or package; an import may go sideways or down, never up
LAYERS = {
    "cli": 5, "tour": 5, "explore": 5, "__main__": 5,
    "experiments": 4,
    "train": 3, "metrics": 3, "viz": 3,
    "models": 2, "data": 2, "fourier": 2, "diffusion": 2, "signals": 2,
    "conv": 1, "kernels": 1,
    "_checks": 0, "_arrays": 0, "_io": 0, "_config": 0, "_checkpoint": 0,
}




def _module_name(path: Path) -> str:
    parts = ["convscope", *path.relative_to(SRC).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> list[tuple[str, int]]:
    """(imported convscope module, line) for every import in the file, at any depth."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "convscope"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if mod.split(".")[0] != "convscope":
                continue
            for a in node.names:  # `from pkg import submodule` imports the submodule
                sub = f"{mod}.{a.name}"
                out.append((sub if sub in known else mod, node.lineno))
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    known = set(mods)
    graph: dict[str, set[str]] = {}
    for name, path in mods.items():
        edges = set()
        for target, _ in _imports(name, path, known):
            while target not in known and "." in target:
                target = target.rpartition(".")[0]
            if target == name:
                continue
            # a package __init__ re-exporting its own modules is not a dependency
            if path.name == "__init__.py" and target.startswith(name + "."):
                continue
            edges.add(target)
        graph[name] = edges
    return graph


def _top(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_graph_is_read():
    g = _graph()
    assert "convscope.experiments.gan" in g
    assert "convscope.models.latent" in g["convscope.experiments.gan"]
    assert "convscope.conv" in g["convscope.experiments.feature_maps"]


def test_nothing_outside_cli_imports_cli():
    bad = [(m, t) for m, ts in _graph().items() for t in ts
           if _top(t) == "cli" and _top(m) not in ("cli", "__main__")]
    assert not bad, f"only cli/ and __main__ may import convscope.cli: {bad}"


def test_no_import_cycles():
    g = _graph()
    # the root package only re-exports (and hands out __version__): it is the facade, not a layer
    g = {m: {t for t in ts if t != "convscope"} for m, ts in g.items() if m != "convscope"}
    state: dict[str, int] = {}
    cycles = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(g.get(m, ())):
            if state.get(t) == 1:
                cycles.append([*stack[stack.index(t):], t])
            elif t not in state:
                visit(t, stack)
        stack.pop()
        state[m] = 2

    for m in sorted(g):
        if m not in state:
            visit(m, [])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_layers_point_down():
    bad = []
    for m, ts in _graph().items():
        src = _top(m)
        if src not in LAYERS:
            continue
        for t in ts:
            dst = _top(t)
            if dst in LAYERS and LAYERS[dst] > LAYERS[src]:
                bad.append(f"{m} ({src}, layer {LAYERS[src]}) imports {t} ({dst}, layer {LAYERS[dst]})")
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_every_package_has_a_layer():
    tops = {_top(m) for m in _modules()} - {""}
    assert tops <= set(LAYERS), f"give these a layer in LAYERS and docs/ARCHITECTURE.md: {tops - set(LAYERS)}"


@pytest.mark.parametrize("lib", ["matplotlib"])
def test_only_viz_imports_matplotlib(lib):
    bad = []
    for path in SRC.rglob("*.py"):
        name = _module_name(path)
        if _top(name) == "viz":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            bad += [f"{name}:{node.lineno}" for n in names if n.split(".")[0] == lib]
    assert not bad, f"only convscope.viz may import {lib}: {bad}"
