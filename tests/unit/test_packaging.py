"""Packaging hygiene (issue 18, item 8): the licence file, one version, typed, test-only dependencies in their
extra, orjson required, and the versions a run used recorded in its meta.json as a pip constraints file."""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata as metadata
import json
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import drills
from drills.cli import main
from drills.errors import ExitCode
from drills.rundir.meta import dependency_versions, recorded_constraints, write_meta

tomllib = pytest.importorskip("tomllib")   # Python 3.11+

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
# The Apache License 2.0 as apache.org publishes it (LICENSE-2.0.txt, with its appendix).
APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"


def _names(requirements: list[str]) -> set[str]:
    return {Requirement(r).name.lower().replace("_", "-") for r in requirements}


def test_the_licence_file_is_the_verbatim_apache_2_text_the_metadata_names():
    assert PROJECT["license"] == "Apache-2.0" and PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_bytes()
    assert hashlib.sha256(text).hexdigest() == APACHE_2_SHA256
    assert b"Apache License\n                           Version 2.0, January 2004" in text


def test_the_version_has_one_source():
    assert "version" not in PROJECT and "version" in PROJECT["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "drills.__version__"}
    assert metadata.version("drills") == drills.__version__   # the installed metadata says the same


def test_the_package_says_it_is_typed_and_ships_the_marker():
    assert (ROOT / "drills" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["drills"]
    assert "Typing :: Typed" in PROJECT["classifiers"]
    assert not any(c.startswith("License ::") for c in PROJECT["classifiers"])   # the SPDX `license` says it
    assert {"Homepage", "Repository", "Issues"} <= set(PROJECT["urls"])


def test_test_only_dependencies_are_in_the_test_extra():
    runtime = _names(PROJECT["dependencies"])
    assert "jsonschema" not in runtime and "jsonschema" in _names(PROJECT["optional-dependencies"]["test"])
    for path in (ROOT / "drills").rglob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert "jsonschema" not in imported, f"{path} imports a test-only dependency"


def test_setup_installs_the_test_and_sql_extras():   # the SQL final-read test needs psycopg
    assert '".[dev,test,sql]"' in (ROOT / "scripts" / "setup-venv.sh").read_text()


def test_orjson_is_required_and_imported_as_such():
    assert "orjson" in _names(PROJECT["dependencies"])
    tree = ast.parse((ROOT / "drills" / "rundir" / "codec.py").read_text())
    handlers = [h for n in ast.walk(tree) if isinstance(n, ast.Try) for h in n.handlers]
    assert not handlers, "codec.py must not fall back when orjson is missing: it is a required dependency"
    assert any(isinstance(n, ast.Import) and n.names[0].name == "orjson" for n in tree.body)


def test_the_dependency_versions_are_those_installed_direct_and_transitive(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch):
    info = tmp_path / "fake_drills-1.0.dist-info"   # a package of our own, so the test does not hang on how
    info.mkdir()                                    # (or whether) drills itself is installed
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-drills\nVersion: 1.0\n"
                                   "Requires-Dist: requests>=2\nRequires-Dist: PyYAML\n"
                                   "Requires-Dist: no-such-package-installed\n"
                                   'Requires-Dist: orjson; extra == "fast"\n'
                                   'Requires-Dist: locust; python_version < "3"\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    versions = dependency_versions(root="fake-drills")
    assert versions["requests"] == metadata.version("requests") and versions["pyyaml"] == metadata.version("pyyaml")
    assert "urllib3" in versions and "idna" in versions                # through requests
    assert "orjson" not in versions and "locust" not in versions      # an extra not asked for; a marker false
    assert "no-such-package-installed" not in versions
    assert dependency_versions(["fast"], root="fake-drills")["orjson"] == metadata.version("orjson")


def test_meta_json_records_the_dependency_versions(tmp_path: Path):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: s\n")
    write_meta(tmp_path, scenario, "s", 7, "s-run")
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert meta["dependencies"]["locust"] == metadata.version("locust")


def test_the_constraints_of_a_run_pin_what_it_ran_with(tmp_path: Path, capsys):
    meta = {"run_id": "r1", "versions": {"drills": "0.1.0", "python": "3.11.2"},
            "dependencies": {"locust": "2.47.0", "requests": "2.34.2"}}
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    assert main(["constraints", str(tmp_path)]) == ExitCode.PASS
    out = capsys.readouterr().out
    assert out == recorded_constraints(tmp_path)
    pins = [line for line in out.splitlines() if line and not line.startswith("#")]
    assert pins == ["locust==2.47.0", "requests==2.34.2"]
    assert "python 3.11.2" in out and "run r1" in out
    assert all(str(Requirement(p).specifier).startswith("==") for p in pins)


def test_the_constraints_of_this_installation_parse_as_requirements(capsys):
    assert main(["constraints"]) == ExitCode.PASS
    pins = [line for line in capsys.readouterr().out.splitlines() if line and not line.startswith("#")]
    assert len(pins) >= 10 and all(Requirement(p).specifier for p in pins)


@pytest.mark.parametrize("meta", [None, "{not json", json.dumps({"run_id": "old", "versions": {}})])
def test_a_run_without_recorded_versions_is_a_usage_error(tmp_path: Path, meta: str | None, capsys):
    (tmp_path / "events.jsonl").write_text("")           # a run directory all the same
    if meta is not None:
        (tmp_path / "meta.json").write_text(meta)
    assert main(["constraints", str(tmp_path)]) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "meta.json" in err and "Traceback" not in err


def test_the_repositorys_constraints_file_pins_every_runtime_dependency():
    text = (ROOT / "constraints.txt").read_text()
    pins = {Requirement(line).name.lower() for line in text.splitlines() if line and not line.startswith("#")}
    assert _names(PROJECT["dependencies"]) <= pins, "run `make constraints`"
    assert text.startswith("# The Python packages this drills") and "\n# python 3." in text
