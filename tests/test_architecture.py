"""The shape of the package: no import cycle, small modules, numerics free of transport,
and every front end through the shared pipeline stages (see docs/architecture.md)."""

import ast
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
from sklearn.datasets import make_blobs

import ksweep
import ksweep._pipeline as pipeline
from ksweep import KSweep

SRC = Path(ksweep.__file__).resolve().parent
#: The most lines a module may have.
MAX_LINES = 600
#: Modules over MAX_LINES being split elsewhere: criteria.py on the selection branch
#: (issue 17 leaves it to that branch). Empty this when that branch is merged.
BEING_SPLIT: set[str] = set()
#: The numerics: what they may not import (executors, shipping X, dask).
NUMERICS = ("_fused", "_fused_state", "_lloyd", "_kernels", "_minibatch")
TRANSPORT = {"ksweep._executors", "ksweep._shipping", "ksweep._dask", "ksweep._dask_arrays"}


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(SRC.rglob("*.py"))}


def imported_modules(name: str) -> set[str]:
    """Every ksweep module ``name`` imports, at the top or inside a function."""
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                root = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*root, base]) if base else ".".join(root)
            # "from ksweep import criteria" imports a module; "from ksweep import KSweep" a name
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        found.update(target for target in targets if target in MODULES and target != name)
    return found


GRAPH = {name: imported_modules(name) for name in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_the_import_walker_sees_cycles_and_function_level_imports():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
    # _executors imports _dask inside a function only: the walker still sees it
    assert "ksweep._dask" in GRAPH["ksweep._executors"]
    assert "ksweep._pipeline" in GRAPH["ksweep._sweep"]
    assert "ksweep._sweep" in GRAPH["ksweep"]  # "from ksweep._sweep import KSweep"


def test_no_import_cycle_in_the_package():
    assert find_cycle(GRAPH) is None, " -> ".join(find_cycle(GRAPH))


def test_no_module_is_over_600_lines():
    sizes = {
        path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in MODULES.values()
    }
    too_long = {name: n for name, n in sizes.items() if n > MAX_LINES and name not in BEING_SPLIT}
    assert not too_long


def test_the_numerics_import_no_executor_shipping_or_dask():
    for name in NUMERICS:
        module = f"ksweep.{name}"
        assert not GRAPH[module] & TRANSPORT, module
        source = MODULES[module].read_text(encoding="utf-8")
        assert "import dask" not in source and "distributed" not in source.split('"""', 2)[2]


@pytest.fixture
def stages(monkeypatch):
    """Record each call of the shared assembly stage, by the engine it assembles."""
    calls = {"assemble": []}
    assemble = pipeline.assemble

    def counting_assemble(plan, records, **kwargs):
        calls["assemble"].append(kwargs["engine"])
        return assemble(plan, records, **kwargs)

    monkeypatch.setattr(pipeline, "assemble", counting_assemble)
    return calls


def test_fit_dask_fit_and_partial_fit_go_through_the_shared_stages(stages):
    X, _ = make_blobs(n_samples=900, centers=3, n_features=3, random_state=0)
    params = dict(k_range=range(2, 6), n_init=2, random_state=0)
    KSweep(**params).fit(X)
    KSweep(**params, engine="independent").fit(X)
    KSweep(**params).fit(da.from_array(X, chunks=300))
    sweep = KSweep(**params)
    for batch in np.array_split(X, 3):
        sweep.partial_fit(batch)
    sweep = KSweep(**params, engine="independent")
    for batch in np.array_split(X, 2):
        sweep.partial_fit(batch)
    assert (
        stages["assemble"]
        == ["fused", "independent", "dask"] + ["fused-stream"] * 3 + ["incremental"] * 2
    )


def test_warnings_of_the_shared_stages_name_the_callers_line():
    X, _ = make_blobs(n_samples=300, centers=3, n_features=2, random_state=0)
    rising = KSweep(
        k_range=[2, 3, 4], n_init=1, random_state=0, score_func=lambda est, X: est.n_clusters
    )
    no_choice = KSweep(k_range=[2, 3, 4], n_init=1, random_state=0, selection=lambda k, r: None)
    with pytest.warns(UserWarning) as caught:
        rising.fit(X)
        rising.extend(X, k_range=[5])
        no_choice.fit(da.from_array(X, chunks=100))
    names = {w.category.__name__ for w in caught}
    assert {"NonMonotonicWarning", "NoElbowWarning"} <= names
    assert {w.filename for w in caught} == {__file__}
