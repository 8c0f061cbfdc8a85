"""The vLLM examples run as is (each starts its own engine; one at a time)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_example_vllm_offline():
    result = subprocess.run([sys.executable, "examples/vllm_offline.py"], cwd=REPO,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    outputs = re.findall(r"^(\w+) +'(.*)'$", result.stdout, re.MULTILINE)
    assert [kind for kind, _ in outputs] == ["grammar", "regex", "grammar", "unconstrained"], result.stdout
    choice, date, record, free = (text for _, text in outputs)
    assert choice in {"positive", "negative", "neutral", "mixed", "unknown"}
    assert re.fullmatch(r"[12]\d{3}-[01]\d-[0-3]\d", date)
    assert set(json.loads(record)) == {"name", "age"}
    assert free.strip()


def test_example_vllm_server():
    result = subprocess.run(["bash", "examples/vllm_server.sh"], cwd=REPO, capture_output=True,
                            text=True, timeout=600, env=dict(os.environ, PYTHON=sys.executable))
    assert result.returncode == 0, result.stdout + result.stderr[-3000:]
    assert re.search(r"^date: [12]\d{3}-[01]\d-[0-3]\d \(HTTP 200\)$", result.stdout, re.MULTILINE), result.stdout
    assert re.search(r"^choice: (positive|negative|neutral|mixed|unknown) \(HTTP 200\)$", result.stdout,
                     re.MULTILINE), result.stdout
    assert re.search(r"^refused: HTTP 400: .*undefined_rule", result.stdout, re.MULTILINE), result.stdout
