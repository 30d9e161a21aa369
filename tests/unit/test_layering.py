"""The package layout is the data flow (docs: README "Layout"): lower stages never import higher ones, no
module imports itself back through a cycle, and no two modules share a file name."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "drills"

# What each package may import from drills (besides itself). Anything else is a layering bug: checks and
# report are pure functions of the run directory, so they never reach the system, the faults or the runner.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "rundir": set(),
    "resources": {"errors"},   # where the harness and the scenario library are: a leaf
    "scenario": {"errors", "resources"},
    "checks": {"rundir", "scenario", "errors"},
    "report": {"rundir", "scenario", "errors", "checks"},
    "platform": {"rundir", "scenario", "errors", "checks", "resources"},
    "load": {"rundir", "scenario", "errors"},
    "faults": {"rundir", "scenario", "errors", "platform"},
    "probes": {"rundir", "scenario", "errors", "platform", "faults"},
    "runner": {"rundir", "scenario", "errors", "platform", "faults", "load", "probes", "checks", "report"},
    "completion": set(),   # shell completion from any argparse parser: a leaf
    "cli": {"rundir", "scenario", "errors", "platform", "faults", "load", "probes", "checks", "report", "runner",
            "completion", "resources"},
    "pytest_plugin": {"rundir", "scenario", "errors", "runner", "report", "checks"},
    "__main__": {"cli"},
}


def _module(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULE_NAMES = {_module(p) for p in ROOT.rglob("*.py")}


def _imports(path: Path, runtime_only: bool) -> set[str]:
    """drills modules imported by `path`; with runtime_only, those under `if TYPE_CHECKING:` are left out."""
    found: set[str] = set()

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            if runtime_only and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
                for child in node.orelse:
                    self.visit(child)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.update(a.name for a in node.names if a.name.startswith("drills."))

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            if node.module and node.module.startswith("drills"):
                for a in node.names:  # `from drills.x import y` imports the module drills.x.y when it is one
                    sub = f"{node.module}.{a.name}"
                    found.add(sub if sub in MODULE_NAMES or node.module == "drills" else node.module)

    Visitor().visit(ast.parse(path.read_text()))
    return found


def _package(module: str) -> str:
    return module.split(".")[1] if "." in module else module


MODULES = {_module(p): p for p in sorted(ROOT.rglob("*.py"))}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_higher_stage(module: str):
    pkg = _package(module)
    if module == "drills":
        return
    allowed = ALLOWED.get(pkg)
    assert allowed is not None, f"{module}: package {pkg!r} has no place in the layering table of this test"
    bad = sorted(m for m in _imports(MODULES[module], runtime_only=False)
                 if _package(m) not in allowed | {pkg, "__version__"} and m != "drills")
    assert not bad, f"{module} ({pkg}) imports {bad}; {pkg} may import only {sorted(allowed)}"


def test_no_import_cycle_among_modules_at_run_time():
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in MODULES.items():
        for target in _imports(path, runtime_only=True):
            if target in MODULES and target != module:
                graph[module].add(target)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for module in sorted(MODULES):
        if module not in state:
            cycle = visit(module)
            assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_two_modules_share_a_file_name():
    seen: dict[str, list[str]] = defaultdict(list)
    for path in ROOT.rglob("*.py"):
        if path.name not in ("__init__.py", "__main__.py"):
            seen[path.name].append(str(path.relative_to(ROOT)))
    twins = {name: places for name, places in seen.items() if len(places) > 1}
    assert not twins, f"modules sharing a name: {twins}"


PURE_LOAD = ("drills.load.runner", "drills.load.livestats", "drills.load.locust_side.choices",
             "drills.load.locust_side.classify", "drills.load.locust_side.recorder", "drills.load.locust_side.stats")


def test_the_harness_side_and_the_pure_load_helpers_never_import_locust_or_gevent():
    """gevent's monkey-patching breaks docker and requests in the harness (and recursion-crashes ssl in pytest):
    the harness side of drills/load and the pure helpers of its Locust side must not pull it in."""
    import subprocess
    import sys
    code = ("import sys, importlib\n"
            f"for m in {PURE_LOAD!r}: importlib.import_module(m)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('locust', 'gevent')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
