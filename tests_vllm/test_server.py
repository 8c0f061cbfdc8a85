"""The plugin in vLLM's OpenAI-compatible server, started and stopped by PID: 64 concurrent mixed
requests through ``vllm_xargs`` (several grammars, unconstrained ones, broken grammars), and a
structural tag."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers import GRAMMARS, PROMPTS, parses
from structural import MESSAGES, TAG, Reference, check


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(url: str, body: dict, timeout: float = 300) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(model_folder, tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = dict(os.environ, VLLM_CPU_KVCACHE_SPACE="2", OMP_NUM_THREADS="1")
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model_folder,
             "--served-model-name", "smollm2", "--host", "127.0.0.1", "--port", str(port),
             "--dtype", "bfloat16", "--max-model-len", "2048", "--enforce-eager",
             "--logits-processors", "decoding.vllm_plugin:GuidedDecodingLogitsProcessor"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while not _healthy(base):
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"the server did not start:\n{log.read_text()[-3000:]}")
        time.sleep(1)
    yield base
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def _request(base: str, i: int) -> tuple[str, dict | None, int, dict]:
    """Request ``i`` of the mix: three grammars, unconstrained, and a broken grammar, alternating
    between the completions and chat endpoints."""
    kinds = [*GRAMMARS, "free", "broken"]
    kind = kinds[i % len(kinds)]
    extra = GRAMMARS.get(kind) or ({"grammar": "start: missing_rule"} if kind == "broken" else None)
    prompt = PROMPTS.get(kind, "Say something kind.")
    body: dict = {"model": "smollm2", "max_tokens": 32, "temperature": 0.0}
    if extra is not None:  # a schema travels as JSON text (vllm_xargs values are scalars)
        body["vllm_xargs"] = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in extra.items()}
    if i % 2:
        body["messages"] = [{"role": "user", "content": prompt}]
        status, reply = _post(f"{base}/v1/chat/completions", body)
        text = reply["choices"][0]["message"]["content"] if status == 200 else ""
    else:
        body["prompt"] = f"Question: {prompt}\nAnswer: "
        status, reply = _post(f"{base}/v1/completions", body)
        text = reply["choices"][0]["text"] if status == 200 else ""
    return kind, extra, status, {"text": text, "reply": reply}


def test_concurrent_mixed_requests(server):
    with ThreadPoolExecutor(max_workers=64) as pool:
        results = list(pool.map(lambda i: _request(server, i), range(64)))
    assert len(results) == 64  # none lost
    for kind, extra, status, got in results:
        if kind == "broken":
            assert status == 400, got
            assert "missing_rule" in json.dumps(got["reply"]), got
        elif kind == "free":
            assert status == 200 and got["text"], got
        else:  # each output parses under its *own* grammar: no state crossed between requests
            assert status == 200, got
            assert parses(extra, got["text"]), (kind, got["text"])
    assert _healthy(server)
    status, reply = _post(f"{server}/v1/completions",
                          {"model": "smollm2", "prompt": "Answer: ", "max_tokens": 8,
                           "temperature": 0.0, "vllm_xargs": GRAMMARS["choices"]})
    assert status == 200 and parses(GRAMMARS["choices"], reply["choices"][0]["text"])


def test_structural_tag(server):
    """A two-tool structural tag through ``vllm_xargs`` (JSON text): greedy and sampled chat
    completions validate; a bad tag is a 400 that names it, and the server keeps serving."""
    reference = Reference(TAG)
    body = {"model": "smollm2", "messages": MESSAGES, "max_tokens": 40, "temperature": 0.0,
            "vllm_xargs": {"structural_tag": json.dumps(TAG)}}
    status, reply = _post(f"{server}/v1/chat/completions", body)
    assert status == 200, reply
    choice = reply["choices"][0]
    assert choice["finish_reason"] == "stop" and check(choice["message"]["content"], True, reference) == 1, reply
    status, reply = _post(f"{server}/v1/chat/completions", {**body, "temperature": 1.0, "n": 6, "seed": 2})
    assert status == 200, reply
    calls = sum(check(c["message"]["content"], c["finish_reason"] == "stop", reference) for c in reply["choices"])
    assert calls >= 1, reply
    bad = {**body, "vllm_xargs": {"structural_tag": json.dumps({"type": "structural_tag", "format": {"type": "nope"}})}}
    status, reply = _post(f"{server}/v1/chat/completions", bad)
    assert status == 400 and "nope" in json.dumps(reply), reply
    assert _healthy(server)
