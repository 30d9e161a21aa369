"""The backup repository's exporter (harness/images/monitoring/stack_exporter.py) on a repository laid out like
pgBackRest's, in a temporary folder: backup.info sets, the newest archived WAL segment, the metrics page."""

from __future__ import annotations

import os
from pathlib import Path

from drills.platform.images import HARNESS
from tests.unit.test_alert_receiver import _load

ex = _load("drills_stack_exporter", HARNESS / "images" / "monitoring" / "stack_exporter.py")

BACKUP_INFO = """[backrest]
backrest-format=5
backrest-version="2.45"

[backup:current]
20261201-200000F={"backrest-format":5,"backup-timestamp-start":1796155200,"backup-timestamp-stop":1796155204,"backup-type":"full"}
20261201-200000F_20261201-201000I={"backup-timestamp-start":1796155800,"backup-timestamp-stop":1796155802,"backup-type":"incr"}
broken={not json

[db]
db-id=1
"""


def _repo(tmp_path: Path) -> Path:
    backup = tmp_path / "backup" / "drills"
    backup.mkdir(parents=True)
    (backup / "backup.info").write_text(BACKUP_INFO)
    archive = tmp_path / "archive" / "drills" / "15-1"
    for d, names in {"0000000100000000": ["000000010000000000000001-" + "a" * 40 + ".lz4",
                                          "000000010000000000000002-" + "b" * 40 + ".lz4"],
                     "0000000200000000": ["000000020000000000000003.partial-" + "c" * 40 + ".lz4",
                                          "000000020000000000000003-" + "d" * 40 + ".lz4",
                                          "00000002.history-" + "e" * 40]}.items():
        (archive / d).mkdir(parents=True)
        for n in names:
            (archive / d / n).write_bytes(b"x")
    os.utime(archive / "0000000200000000" / names[1], (1796155900, 1796155900))
    return tmp_path


def test_segment_names_give_the_byte_position_after_them():
    seg = 16 * 1024 * 1024
    assert ex.segment_end_lsn("000000010000000000000002-" + "b" * 40 + ".lz4") == 3 * seg
    assert ex.segment_end_lsn("0000000100000001000000FF-" + "b" * 40) == (1 << 32) + 256 * seg
    for other in ("000000020000000000000003.partial-" + "c" * 40 + ".lz4", "00000002.history",
                  "000000010000000000000002.00000028.backup", "archive.info"):
        assert ex.segment_end_lsn(other) is None


def test_backup_info_sets_are_read_and_a_broken_line_skipped():
    sets = ex.backup_sets(BACKUP_INFO)
    assert [s["label"] for s in sets] == ["20261201-200000F", "20261201-200000F_20261201-201000I"]
    assert sets[1]["backup-timestamp-stop"] == 1796155802


def test_newest_segment_over_every_timeline(tmp_path: Path):
    repo = _repo(tmp_path)
    end, mtime = ex.newest_archived(str(repo / "archive" / "drills"))
    assert end == 4 * 16 * 1024 * 1024 and mtime == 1796155900
    assert ex.newest_archived(str(tmp_path / "nothing")) is None


def test_metrics_page(tmp_path: Path):
    text = ex.render(str(_repo(tmp_path)), "drills", 60, True)
    values = dict(line.rsplit(" ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert values["drills_backup_sets"] == "2" and values["drills_backup_repository_readable"] == "1"
    assert float(values["drills_backup_last_completion_timestamp_seconds"]) == 1796155802
    assert float(values["drills_backup_last_full_completion_timestamp_seconds"]) == 1796155204
    assert float(values["drills_wal_archive_end_lsn_bytes"]) == 4 * 16 * 1024 * 1024
    assert values["drills_backup_interval_seconds"] == "60" and values["drills_wal_archiving_enabled"] == "1"


def test_an_empty_or_lost_repository_says_so(tmp_path: Path):
    text = ex.render(str(tmp_path), "drills", 0, True)
    assert "drills_backup_sets 0" in text and "drills_backup_repository_readable 0" in text
    assert "drills_backup_last_completion_timestamp_seconds" not in text
    assert "drills_wal_archive_end_lsn_bytes" not in text
