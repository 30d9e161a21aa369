"""The run directory: one home for its file names, its writers and its tolerant reader.

Every stage of a drill appends to the run directory as things happen (history first, verdicts later), and
every later stage reads it back — a crashed run included. Which files there are, how a line is encoded, how
it is appended without losing a crash-cut last line and how a damaged file is read are decided here once
(docs/run-directory.md describes the files). Nothing outside this package spells a file name.
"""
