"""``check --grammar python.lark --start file_input --indenter python``: the CLI flag for
Python-style indentation (lark's PythonIndenter)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import lark

PYTHON_LARK = str(Path(lark.__file__).parent / "grammars" / "python.lark")
ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "decoding", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def test_check_with_python_indenter():
    flags = ("--grammar", PYTHON_LARK, "--start", "file_input", "--indenter", "python")
    assert cli("check", *flags, "if x:\n    y = 1\n").returncode == 0
    bad = cli("check", *flags, "if x:\n    y = 1\n  z = 2\n")
    assert bad.returncode != 0 and bad.stderr
    # without the indenter the %declare'd _INDENT/_DEDENT are refused by name
    plain = cli("check", "--grammar", PYTHON_LARK, "--start", "file_input", "x = 1\n")
    assert plain.returncode != 0 and "_DEDENT, _INDENT" in plain.stderr
