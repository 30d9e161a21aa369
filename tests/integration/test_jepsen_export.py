"""`drill export --format jepsen` read by Clojure itself, as elle-cli reads a history: clojure.edn for the EDN,
clojure.data.json with elle-cli's value-reader for the JSON; both must read to the same history, every process
must alternate invoke and completion (none reused after :info), and Jepsen's set counts over `--set purchase`
must be the audit's own (acknowledged, lost, unexpected).

Needs Java and Debian's `clojure` and `libdata-json-clojure` (apt-get install clojure libdata-json-clojure);
skipped without them. No Docker.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from drills.cli import main

HERE = Path(__file__).resolve().parent
CHECKER = HERE / "jepsen_history_check.clj"
RUNS = HERE.parent / "unit" / "fixtures" / "runs"
JARS = [Path("/usr/share/java") / n for n in ("clojure.jar", "data.json.jar", "spec.alpha.jar",
                                               "core.specs.alpha.jar")]

pytestmark = pytest.mark.skipif(shutil.which("java") is None or not all(j.exists() for j in JARS),
                                reason="needs java and Debian's clojure + libdata-json-clojure")


def _clojure(*paths: Path) -> str:
    cmd = ["java", "-cp", ":".join(str(j) for j in JARS), "clojure.main", str(CHECKER), *map(str, paths)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


@pytest.mark.parametrize("run", ["fail", "pass"])
def test_clojure_reads_the_export_and_jepsens_set_counts_are_the_audits(run: str, tmp_path: Path) -> None:
    run_dir = RUNS / run
    paths = {}
    for name, args in (("all.edn", []), ("all.json", ["--format", "jepsen-json"]),
                       ("set.edn", ["--set", "purchase"]), ("set.json", ["--set", "purchase", "--format",
                                                                          "jepsen-json"])):
        paths[name] = tmp_path / name
        assert main(["export", str(run_dir), "--output", str(paths[name]), *args]) == 0
    out = _clojure(paths["all.edn"], paths["all.json"], paths["set.edn"], paths["set.json"])
    audit = json.loads((run_dir / "result.json").read_text())["audit"]
    found = re.search(r"set\.edn ops \d+ fs \(:add :read\) set \{:acknowledged (\d+), :lost (\d+), :unexpected (\d+)",
                      out)
    assert found, out
    assert [int(x) for x in found.groups()] == [audit["acknowledged"], audit["lost"], audit["unexpected"]]
    assert re.search(r"all\.edn ops \d+ fs \(.*:purchase.*\) set nil", out), out
