"""No import circles inside the store or the web packages. A circle there made the import order
matter (a module half-initialised when its partner asked for a name) and hid which module is
the lower one; the graph is grimp's, the one import-linter checks its contracts on, with the
imports made for type checking counted too."""

from __future__ import annotations

import grimp
import pytest


def _cycle(graph: grimp.ImportGraph, package: str) -> list[str] | None:
    """One import circle among `package`'s modules, or None."""
    modules = sorted(m for m in graph.modules if m.startswith(package + "."))
    inside = set(modules)
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph.find_modules_directly_imported_by(m) & inside):
            if state.get(n) == 1:
                return [*path[path.index(n) :], n]
            if n not in state and (found := visit(n)) is not None:
                return found
        path.pop()
        state[m] = 2
        return None

    for m in modules:
        if m not in state and (found := visit(m)) is not None:
            return found
    return None


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("citybrain")


@pytest.mark.parametrize("package", ["citybrain.store", "citybrain.web"])
def test_no_import_circle(graph: grimp.ImportGraph, package: str) -> None:
    assert _cycle(graph, package) is None
