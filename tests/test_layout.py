"""The layout check (scripts/check_layout.py): it finds cycles and long modules, and the repository has none."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def layout():
    spec = importlib.util.spec_from_file_location("check_layout", ROOT / "scripts" / "check_layout.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_layout"] = module
    spec.loader.exec_module(module)
    return module


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for package in ("grammars", "samplers", "drafters", "decoding"):
        (tmp_path / package).mkdir(exist_ok=True)
        (tmp_path / package / "__init__.py").touch()
    return tmp_path


def test_finds_a_cycle_through_a_lazy_relative_import(layout, tmp_path):
    root = _tree(tmp_path, {
        "grammars/a.py": "from .b import f\n",
        "grammars/b.py": "def f():\n    from .c import g\n",
        "grammars/c.py": "from grammars import a\n",
        "grammars/d.py": "from .a import f\n",
    })
    assert layout.import_cycles(layout.import_graph(root)) == [["grammars.a", "grammars.b", "grammars.c"]]


def test_type_checking_imports_and_package_reexports_are_not_cycles(layout, tmp_path):
    root = _tree(tmp_path, {
        "grammars/__init__.py": "from .a import f\nfrom .b import g\n",
        "grammars/a.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import g\ndef f(): ...\n",
        "grammars/b.py": "from .a import f\ndef g(): ...\n",
        "grammars/sub/__init__.py": "from .x import h\n",
        "grammars/sub/x.py": "from ..a import f\ndef h(): ...\n",
    })
    assert layout.import_cycles(layout.import_graph(root)) == []


def test_finds_long_modules(layout, tmp_path):
    root = _tree(tmp_path, {"decoding/big.py": "x = 1\n" * 601, "decoding/ok.py": "x = 1\n" * 600})
    assert layout.long_modules(root) == [("decoding/big.py", 601)]
    assert layout.problems(root) == ["module over 600 lines: decoding/big.py (601 lines)"]


def test_the_repository_has_no_cycle_and_no_long_module(layout):
    assert layout.problems(ROOT) == []
