"""The alert names the reference stack's rules define, read from harness/monitoring/rules/*.yml.

The rule files are the one home of every alert: the validator reads the names from them (an expected alert no
rule defines is a typo or a rule that was renamed, caught before the drill runs) instead of keeping a copy.
A rule file is Prometheus' format (`groups: [{name, rules: [{alert: NAME, expr, for, labels}, ...]}]`); a file
that does not parse is skipped here (`promtool check rules` in the tests is the authority on the files).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from drills.resources import HARNESS

# The shipped rules (a checkout's harness/ or an installed package's copy); absent: no name can be checked.
RULES_DIR = HARNESS / "monitoring" / "rules"


def rule_alert_names(folder: Path | None = None) -> tuple[str, ...] | None:
    """Every `alert:` name in the folder's *.yml / *.yaml files, sorted; None when the folder does not exist
    (nothing to check against), an empty tuple when it holds no alert rule."""
    alerts = rule_alerts(folder)
    return None if alerts is None else tuple(sorted(alerts))


def rule_alerts(folder: Path | None = None) -> dict[str, dict[str, str]] | None:
    """Every alert the folder's rule files define: name -> {file, severity, summary} (the stack's status and
    docs read the same), None when the folder does not exist."""
    folder = RULES_DIR if folder is None else Path(folder)
    if not folder.is_dir():
        return None
    found: dict[str, dict[str, str]] = {}
    for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
        for rule in _alert_rules_in(path):
            labels, notes = rule.get("labels"), rule.get("annotations")
            found[rule["alert"]] = {
                "file": path.name,
                "severity": str(labels.get("severity", "")) if isinstance(labels, dict) else "",
                "summary": str(notes.get("summary", "")) if isinstance(notes, dict) else ""}
    return found


def alert_names_in(text: str) -> set[str] | None:
    """The alert names a rule file's text defines; None when it is not a Prometheus rule file (no `groups`)."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("groups"), list):
        return None
    return {rule["alert"] for rule in _alert_rules_of(doc)}


def _alert_rules_in(path: Path) -> list[dict]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    return _alert_rules_of(doc)


def _alert_rules_of(doc: object) -> list[dict]:
    groups = doc.get("groups") if isinstance(doc, dict) else None
    found: list[dict] = []
    for group in groups if isinstance(groups, list) else []:
        rules = group.get("rules") if isinstance(group, dict) else None
        for rule in rules if isinstance(rules, list) else []:
            name = rule.get("alert") if isinstance(rule, dict) else None
            if isinstance(name, str) and name:
                found.append(rule)
    return found
