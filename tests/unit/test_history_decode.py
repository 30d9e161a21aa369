"""The history's columnar reading (history_decode.py and History._add_lines) against the per-line reader: the same
history, the same notes, whether every chunk is plain, some are damaged, or it is shifted by a worker's clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from drills.checks import history as columns
from drills.checks.history_decode import Lines, decode_lines
from drills.rundir.tolerant import Problems
from tests.unit.test_history_columns import DECLARED, T0, _state, _write


def _read(paths: list[Path], per_line: bool, monkeypatch: pytest.MonkeyPatch, audit: Any = None,
          shifts: dict[Path, float] | None = None) -> tuple[dict[str, Any], int]:
    """The finished history's state, and how many lines were read as columns."""
    taken = []
    add_lines = columns.History._add_lines

    def counted(self: columns.History, d: Lines, base: int, shift: float) -> bool:
        added = add_lines(self, d, base, shift)
        taken.append(len(d) if added else 0)
        return added

    with monkeypatch.context() as m:
        m.setattr(columns.History, "_add_lines", counted)
        m.setattr(columns, "CHUNK_BYTES", 4096)      # many chunks, so damaged ones go line by line mid-file
        if per_line:
            m.setattr(columns, "decode_lines", lambda chunk, size: None)
        problems = Problems()
        h = columns.load_history(paths, problems, audit, shifts)
        h.finish(T0 + 2.0, T0 + 40.0)
    return _state(h, problems), sum(taken)


@pytest.mark.parametrize(("seed", "damage", "truncate"), [(1, 0.0, False), (2, 0.0, True), (3, 0.0005, False),
                                                         (4, 0.01, True), (5, 0.3, False)])
def test_columns_read_what_the_per_line_reader_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int,
                                                     damage: float, truncate: bool) -> None:
    paths = _write(tmp_path, seed, files=3, lines=1500, damage=damage, truncate=truncate)
    fast, taken = _read(paths, False, monkeypatch)
    slow, _ = _read(paths, True, monkeypatch)
    assert fast == slow
    if damage == 0.0:       # every line as columns, but the chunk of a truncated last line
        assert taken == 4500 or (truncate and 4400 < taken < 4500)
    elif damage < 0.3:
        assert 0 < taken < 4500           # plain chunks as columns, the rest line by line


def test_a_workers_clock_shift_and_a_declared_audit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = _write(tmp_path, 7, files=2, lines=800, damage=0.0, truncate=False)
    shifts = {paths[1]: 1.2345}
    fast, taken = _read(paths, False, monkeypatch, shifts=shifts)
    assert taken == 1600 and fast == _read(paths, True, monkeypatch, shifts=shifts)[0]
    declared, taken = _read(paths, False, monkeypatch, audit=DECLARED)
    assert taken == 0 and declared == _read(paths, True, monkeypatch, audit=DECLARED)[0]


@pytest.mark.parametrize("line", [
    b"", b"   ", b'{"op":"browse","invoke":1764150000.5,"complete":1764150000.6,"outcome":"ok"} {}',
    b'{"op":"browse","invoke":1764150000.5,"complete":true,"outcome":"ok"}',
    b'{"op":"browse","invoke":"1764150000.5","complete":1764150000.6,"outcome":"ok"}',
    b'{"op":"purchase","invoke":1764150000.5,"complete":1764150000.6,"outcome":"ok","key":12}',
    b'{"op":"purchase","invoke":1764150000.5,"complete":1764150000.6,"outcome":"fail","status":409.0}',
    b'{"op":"browse","invoke":null,"complete":1764150000.6,"outcome":"ok"}',
    b'{"op":"browse","invoke":1764150000.5,"complete":1764150000.6}',
    # one value over two lines, or two on one, each line opening and closing a brace; CRLF; padding
    b'{"op":"browse","invoke":1764150000.5,"complete":1764150000.6,"outcome":"ok","x":{}\n{"y":1}}',
    b'{"op":"browse","invoke":1764150000.5,"complete":1764150000.6,"outcome":"ok"}{"op":"browse",'
    b'"invoke":1764150000.5,"complete":1764150000.6,"outcome":"ok"}',
    b'{"op":"browse","invoke":1764150000.5,"complete":1764150000.6,"outcome":"ok"}\r',
    b' {"op":"browse","invoke":1764150000.5,"complete":1764150000.6,"outcome":"ok"}',
])
def test_a_line_that_needs_the_tolerant_reader_makes_its_chunk_undecodable(line: bytes) -> None:
    plain = b'{"op":"browse","invoke":1764150000.5,"complete":1764150000.6,"outcome":"ok"}\n'
    chunk = plain + line + b"\n" + plain
    assert decode_lines(chunk, len(chunk)) is None
    decoded = decode_lines(plain * 2, len(plain) * 2)
    assert decoded is not None and decoded.starts.tolist() == [0, len(plain)]
    unended = plain * 2 + plain[:-1]           # the file's last line without its newline
    decoded = decode_lines(unended + b'{"op":', len(unended))
    assert decoded is not None and decoded.starts.tolist() == [0, len(plain), 2 * len(plain)]
    assert decode_lines(plain + b"\n", len(plain) + 1) is None
