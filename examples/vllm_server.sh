#!/usr/bin/env bash
# vLLM's OpenAI-compatible server with the plugin (loaded through its entry point), and a client that
# sends constraints in `vllm_xargs`: a regex to /v1/chat/completions, a bundled grammar to
# /v1/completions, and a broken grammar (answered with a 400). Needs .venv-vllm (scripts/setup_vllm.sh).
#
#     bash examples/vllm_server.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv-vllm/bin/python}
PORT=${PORT:-8765}
MODEL=$("$PY" -c "from decoding.models import test_model_path; print(test_model_path())")
export VLLM_CPU_KVCACHE_SPACE=${VLLM_CPU_KVCACHE_SPACE:-2} OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
LOG=$(mktemp)
"$PY" -m vllm.entrypoints.openai.api_server --model "$MODEL" --served-model-name smollm2 \
    --host 127.0.0.1 --port "$PORT" --dtype bfloat16 --max-model-len 2048 --enforce-eager >"$LOG" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null; wait "$SERVER" 2>/dev/null; rm -f "$LOG"' EXIT
for _ in $(seq 240); do
    curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
    kill -0 "$SERVER" 2>/dev/null || { tail -20 "$LOG"; exit 1; }
    sleep 1
done
post() {  # endpoint, JSON body: print the HTTP status and the body
    curl -s -w '\n%{http_code}\n' "http://127.0.0.1:$PORT/v1/$1" -H 'Content-Type: application/json' -d "$2"
}
echo "--- regex, chat:"
post chat/completions '{"model": "smollm2", "max_tokens": 16, "temperature": 0,
  "messages": [{"role": "user", "content": "When did Apollo 11 land on the moon? Give the date."}],
  "vllm_xargs": {"regex": "[12][0-9]{3}-[01][0-9]-[0-3][0-9]"}}' | "$PY" -c '
import json, sys; body, status = sys.stdin.read().rsplit("\n", 2)[:2]
print("date:", json.loads(body)["choices"][0]["message"]["content"], f"(HTTP {status})")'
echo "--- bundled grammar, completion:"
post completions '{"model": "smollm2", "max_tokens": 8, "temperature": 0,
  "prompt": "Review: I love it!\nSentiment (positive, negative, neutral, mixed or unknown): ",
  "vllm_xargs": {"grammar": "choices"}}' | "$PY" -c '
import json, sys; body, status = sys.stdin.read().rsplit("\n", 2)[:2]
print("choice:", json.loads(body)["choices"][0]["text"], f"(HTTP {status})")'
echo "--- broken grammar:"
post completions '{"model": "smollm2", "max_tokens": 8, "prompt": "Hi",
  "vllm_xargs": {"grammar": "start: undefined_rule"}}' | "$PY" -c '
import json, sys; body, status = sys.stdin.read().rsplit("\n", 2)[:2]
print("refused:", f"HTTP {status}:", json.loads(body)["error"]["message"][:120])'
