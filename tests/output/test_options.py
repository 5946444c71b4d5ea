"""The output options as given (rawscan/output/options.py, commands/common.py): one file named
two ways, a name that writes nothing or a hidden file, an option given twice: each is one error
line, before anything is written."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.rawscan_cli import one_error_line, rawscan
from tests.support.syn_recording import SYN


# --- one file named two ways ----------------------------------------------------------------


def test_one_file_named_two_ways_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "linked").symlink_to(tmp_path / "real")
    for first, second in (("a", "./a"), ("real/b", "linked/b"), (str(tmp_path / "c"), "c")):
        proc = rawscan("replay", str(SYN), "-q", "-oJ", first, "-oC", second, cwd=tmp_path)
        one_error_line(proc, "same file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["linked", "real"]
    assert list((tmp_path / "real").iterdir()) == []
    proc = rawscan("replay", str(SYN), "-q", "-oJ", "/dev/null", "-oC", "/dev/null")
    assert proc.returncode == 0, proc.stderr  # a device takes any number of writers


# --- names that write nothing or hidden files -----------------------------------------------


@pytest.mark.parametrize("args, words", [(["-oJ", ""], "-oJ needs a file name"),
                                         (["-oA", "d/"], "-oA takes a base file name"),
                                         (["-oA", "."], "-oA takes a base file name")])
def test_output_names_that_write_nothing_or_hidden_files_are_refused(
        tmp_path: Path, args: list[str], words: str) -> None:
    (tmp_path / "d").mkdir()
    proc = rawscan("replay", str(SYN), "-q", *args, cwd=tmp_path)
    one_error_line(proc, words)
    assert list((tmp_path / "d").iterdir()) == [] and sorted(os.listdir(tmp_path)) == ["d"]


# --- an output option given twice -----------------------------------------------------------


def test_an_output_option_given_twice_is_refused(tmp_path: Path) -> None:
    proc = rawscan("replay", str(SYN), "-q", "-oC", "a.csv", "-oC", "b.csv", cwd=tmp_path)
    one_error_line(proc, "-oC is given more than once")
    assert list(tmp_path.iterdir()) == []  # was: b.csv written, a.csv silently not
