#!/usr/bin/env bash
# The command line with a grammar of your own (a .lark file) and with the bundled JSON grammar.
#
# Run from the repository root:   bash examples/cli_json.sh
# PYTHON (default .venv/bin/python) runs the CLI as `$PYTHON -m decoding` (the same as the
# `guided-decoding` script); MAX_NEW_TOKENS (default 48) bounds the JSON answer.
set -euo pipefail

PYTHON=${PYTHON:-.venv/bin/python}
MAX_NEW_TOKENS=${MAX_NEW_TOKENS:-48}
cli=("$PYTHON" -m decoding)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A grammar of your own: an ISO date.
cat > "$tmp/date.lark" <<'LARK'
// An ISO 8601 calendar date: YYYY-MM-DD
start: YEAR "-" MONTH "-" DAY
YEAR: /[12][0-9]{3}/
MONTH: /0[1-9]|1[0-2]/
DAY: /0[1-9]|[12][0-9]|3[01]/
LARK

echo "== check: does a text belong to the grammar? (no model needed)"
"${cli[@]}" check --grammar "$tmp/date.lark" 1969-07-20
if "${cli[@]}" check --grammar "$tmp/date.lark" 1969-13-20; then
    echo "error: 1969-13-20 was accepted" >&2
    exit 1
fi
echo "(1969-13-20 rejected, as expected: exit status 1)"

echo "== generate a date"
date=$("${cli[@]}" generate --grammar "$tmp/date.lark" --chat --max-new-tokens 16 \
    --prompt "On which date did Apollo 11 land on the Moon?")
echo "date: $date"
"${cli[@]}" check --quiet --grammar "$tmp/date.lark" "$date"

echo "== generate JSON with the bundled grammar, as JSON lines"
"${cli[@]}" generate --grammar json --chat --jsonl --max-new-tokens "$MAX_NEW_TOKENS" \
    --prompt "Give a cat named Tom, aged 3, as a JSON object with the keys name and age." \
    > "$tmp/answers.jsonl"
"$PYTHON" - "$tmp/answers.jsonl" <<'PY'
import json, sys

for line in open(sys.argv[1], encoding="utf-8"):
    record = json.loads(line)
    value = json.loads(record["text"])  # the constrained text is JSON
    print(f"json: {json.dumps(value)}  ({record['tokens']} tokens, valid={record['valid']})")
PY
