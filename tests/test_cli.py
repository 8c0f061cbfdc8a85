"""The command line (``python -m decoding`` = ``guided-decoding``), through real subprocesses.

The ``generate`` tests load the real test model (a few seconds per process) and keep the outputs to
a few tokens, greedy mostly; everything else answers before any model is loaded.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BUNDLED = ["arithmetic", "choices", "csv", "expression", "json", "sql"]
CHOICES = {"positive", "negative", "neutral", "mixed", "unknown"}


def cli(*args: str, input: str | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``python -m decoding ARGS`` in the repository root."""
    return subprocess.run([sys.executable, "-m", "decoding", *args], cwd=REPO, input=input,
                          capture_output=True, text=True, timeout=timeout)


def jsonl(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


# -- help, usage, grammars -------------------------------------------------------------------------


@pytest.mark.parametrize("command", [[], ["generate"], ["check"], ["grammars"]])
def test_help_shows_an_example(command):
    result = cli(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: guided-decoding" in result.stdout
    examples = result.stdout.split("examples:", 1)[1]
    assert f"guided-decoding {command[0] if command else ''}".strip() in examples


def test_generate_help_says_where_logprob_comes_from():
    out = cli("generate", "--help").stdout
    assert "output_logits" in out and "unconstrained" in out


@pytest.mark.parametrize("args", [
    ["generate", "--grammar", "json", "--regex", "a+", "--prompt", "x"],  # at most one constraint
    ["generate", "--no-such-flag"],
    ["generate", "--sampler", "beam", "--prompt", "x"],
    ["generate", "--temperature", "0", "--prompt", "x"],
    ["generate", "-n", "0", "--prompt", "x"],
    ["check", "{}"],  # check needs a grammar
    [],  # no subcommand
])
def test_bad_usage_exits_2(args):
    result = cli(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "usage:" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("sampler", ["asap", "exact"])
def test_aligned_samplers_give_valid_weighted_samples(sampler, tmp_path):
    trie = tmp_path / "run.trie.npz"
    args = ("generate", "--grammar", "choices", "--chat", "--sampler", sampler, "-n", "6",
            "--seed", "0", "--max-new-tokens", "8", "--jsonl", "--trie", str(trie),
            "--prompt", "Is 'I love it' positive?")
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    rows = jsonl(result.stdout)
    assert len(rows) == 6
    assert all(r["valid"] and r["finished"] and r["attempts"] >= 1 for r in rows)
    assert all(r["weight"] > 0 for r in rows)
    assert sampler != "exact" or all(r["weight"] == 1.0 for r in rows)
    assert "theta(root)" in result.stderr and trie.exists()
    again = cli(*args)  # continues the saved trie
    assert again.returncode == 0, again.stderr
    mismatch = cli(*args[:-1], "Another prompt.")
    assert mismatch.returncode == 1
    assert "prompt_hash" in mismatch.stderr and "Traceback" not in mismatch.stderr


def test_drafter_gives_the_same_output_and_keeps_its_table(tmp_path):
    table = tmp_path / "table.npz"
    common = ("generate", "--grammar", "json", "--chat", "--max-new-tokens", "40", "--jsonl",
              "--prompt", "Describe a cat as JSON with a name and an age.")
    plain = cli(*common)
    fast = cli(*common, "--drafter", "aded", "--trigram-table", str(table))
    assert plain.returncode == 0 and fast.returncode == 0, fast.stderr
    a, b = jsonl(plain.stdout)[0], jsonl(fast.stdout)[0]
    assert a["text"] == b["text"] and a["tokens"] == b["tokens"] and b["valid"]
    assert abs(a["logprob"] - b["logprob"]) < 1e-2
    assert table.exists()
    again = cli(*common, "--drafter", "aded", "--trigram-table", str(table))
    assert again.returncode == 0 and jsonl(again.stdout)[0]["text"] == a["text"]


@pytest.mark.parametrize("args,message", [
    (("--sampler", "asap", "--prompt", "x"), "give --grammar, --regex, --json-schema or --structural-tag"),
    (("--grammar", "choices", "--sampler", "asap", "--drafter", "aded", "--prompt", "x"),
     "--drafter goes with"),
    (("--grammar", "choices", "--trigram-table", "t.npz", "--prompt", "x"), "--trigram-table goes"),
    (("--grammar", "choices", "--trie", "t.npz", "--prompt", "x"), "--trie goes with"),
    (("--grammar", "choices", "--sampler", "asap", "--trie", "t.npz", "--prompt", "x",
      "--prompt", "y"), "one prompt"),
    (("--grammar", "choices", "--sampler", "exact", "--max-new-tokens", "1", "--prompt", "x"),
     "unsatisfiable within max_new_tokens = 1"),
])
def test_aligned_sampler_errors_are_named(args, message):
    result = cli("generate", *args)
    assert result.returncode == 1, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_grammars_lists_the_six_bundled_grammars():
    result = cli("grammars")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == BUNDLED
    assert all(len(line.split(None, 1)) == 2 for line in lines)  # name and description
    shown = cli("grammars", "choices")
    assert shown.returncode == 0 and '"positive"' in shown.stdout


# -- grammar errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["check", "x"], ["generate", "--prompt", "x"]])
def test_broken_grammar_file_is_reported_like_a_compiler(tmp_path, command):
    bad = tmp_path / "broken.lark"
    bad.write_text('start: item+\nitem: "a" ) "b"\n', encoding="utf-8")
    result = cli(command[0], "--grammar", str(bad), *command[1:])
    assert result.returncode == 1
    first = result.stderr.splitlines()[0]
    assert re.fullmatch(rf"{re.escape(str(bad))}:2:(\d+): error: .+", first), result.stderr
    assert first.split(":")[2] == "11"  # the column of ')'
    assert 'item: "a" ) "b"' in result.stderr  # the line, with a caret under the column
    assert "Traceback" not in result.stderr
    debug = cli("--debug", command[0], "--grammar", str(bad), *command[1:])
    assert debug.returncode == 1 and "Traceback" in debug.stderr


def test_undefined_symbol_points_at_its_use(tmp_path):
    bad = tmp_path / "undefined.lark"
    bad.write_text('// "missing" in a comment\nstart: "a" missing\n', encoding="utf-8")
    result = cli("check", "--grammar", str(bad), "a")
    assert result.returncode == 1
    assert result.stderr.startswith(f"{bad}:2:12: error: ") and "missing" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_grammar_name_lists_the_known_ones():
    result = cli("check", "--grammar", "jsn", "{}")
    assert result.returncode == 1
    assert "unknown grammar 'jsn'" in result.stderr and "did you mean 'json'" in result.stderr
    assert all(name in result.stderr for name in BUNDLED)
    assert "Traceback" not in result.stderr


def test_missing_grammar_file(tmp_path):
    missing = tmp_path / "nope.lark"
    result = cli("generate", "--grammar", str(missing), "--prompt", "x")
    assert result.returncode == 1
    assert result.stderr.startswith(f"{missing}: error: no such file")


def test_bad_regex_is_reported_with_its_column():
    result = cli("check", "--regex", "ab[c", "abc")
    assert result.returncode == 1
    assert result.stderr.startswith("--regex:1:3: error: not a valid regular expression")
    empty = cli("check", "--regex", "a*", "a")
    assert empty.returncode == 1 and "empty string" in empty.stderr


PERSON_SCHEMA = {"type": "object", "additionalProperties": False, "required": ["name", "age"],
                 "properties": {"name": {"type": "string", "maxLength": 12},
                                "age": {"type": "integer", "minimum": 0, "maximum": 120}}}


def test_generate_with_a_json_schema(tmp_path):
    import jsonschema

    schema = tmp_path / "person.schema.json"
    schema.write_text(json.dumps(PERSON_SCHEMA))
    result = cli("generate", "--json-schema", str(schema), "--chat", "--jsonl", "--max-new-tokens",
                 "40", "--prompt", "Invent a person with a name and an age.")
    assert result.returncode == 0, result.stderr
    [record] = jsonl(result.stdout)
    assert record["valid"] is True and record["finished"] is True
    jsonschema.validate(json.loads(record["text"]), PERSON_SCHEMA)
    assert cli("check", "--json-schema", str(schema), '{"name":"Ann","age":7}').returncode == 0
    wrong = cli("check", "--json-schema", str(schema), '{"name":"Ann","age":700}')
    assert wrong.returncode == 1 and "error:" in wrong.stderr


def test_bad_json_schema_files_are_named(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": "object",\n "properties": }')
    result = cli("check", "--json-schema", str(broken), "{}")
    assert result.returncode == 1
    assert result.stderr.startswith(f"{broken}:2:16: error: not JSON"), result.stderr
    unsupported = tmp_path / "unique.json"
    unsupported.write_text(json.dumps({"anyOf": [{"type": "array", "items": {"type": "object"}, "uniqueItems": True},
                                                 {"type": "array"}]}))
    result = cli("check", "--json-schema", str(unsupported), "[]")
    assert result.returncode == 1
    assert "#/anyOf/0/uniqueItems: unsupported `uniqueItems`" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


# -- check -----------------------------------------------------------------------------------------


def test_check_accepts_valid_json():
    result = cli("check", "--grammar", "json", '{"name": "Tom", "tags": ["cat", "é"], "age": 3}')
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")


def test_check_rejects_invalid_json_at_the_first_bad_byte():
    result = cli("check", "--grammar", "json", '{"a": [1,\n  2,]}')
    assert result.returncode == 1
    assert result.stderr.startswith("<text>:2:5: error: ']' is not allowed here"), result.stderr
    expected = result.stderr.split("expected: ", 1)[1]
    assert "'0'..'9'" in expected and "'{'" in expected and "']'" not in expected


def test_check_reads_stdin_and_reports_an_incomplete_text():
    result = cli("check", "--grammar", "json", "-", input='{"a": [1, 2')
    assert result.returncode == 1
    assert result.stderr.startswith("<stdin>:1:12: error: ends too early: the text is incomplete")
    assert "']'" in result.stderr.split("expected: ", 1)[1]
    ok = cli("check", "--grammar", "json", input='[1, {"b": null}]\n')  # no TEXT: stdin
    assert ok.returncode == 0, ok.stderr
    # a trailing newline is part of the text: the choices grammar has no room for it
    newline = cli("check", "--grammar", "choices", input="positive\n")
    assert newline.returncode == 1 and "'\\n' is not allowed here" in newline.stderr


def test_check_regex_with_slashes_and_escapes():
    pattern = r"a/b\x2e[0-9]{2}"  # \x2e is a literal dot, not a wildcard
    assert cli("check", "--regex", pattern, "a/b.12").returncode == 0
    rejected = cli("check", "--regex", pattern, "a/bx12")
    assert rejected.returncode == 1 and rejected.stderr.startswith("<text>:1:4: error: 'x'")
    assert cli("check", "--quiet", "--regex", pattern, "a/b.1").stderr == ""


def test_check_reads_a_grammar_file_in_the_llguidance_dialect(tmp_path):
    path = tmp_path / "pair.lark"
    path.write_text('start: "ab"{2,3} %json {"type": "integer", "maximum": 5}\n')
    args = ["check", "--dialect", "llguidance", "--grammar", str(path)]
    assert cli(*args, "abab3").returncode == 0
    rejected = cli(*args, "ab3")
    assert rejected.returncode == 1 and rejected.stderr.startswith("<text>:1:3: error: '3'"), rejected.stderr
    # read as plain lark, the dialect's repetition is a syntax error at its place
    plain = cli("check", "--grammar", str(path), "abab3")
    assert plain.returncode == 1 and plain.stderr.startswith(f"{path}:1:12: error: "), plain.stderr


# -- generate (real model) -------------------------------------------------------------------------


def test_generate_json_chat_jsonl():
    result = cli("generate", "--model", "test", "--grammar", "json", "--chat", "--jsonl",
                 "--max-new-tokens", "48",
                 "--prompt", "Describe a cat as JSON with a name and an age.")
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    [record] = jsonl(result.stdout)
    assert set(record) == {"prompt", "text", "tokens", "logprob", "seconds", "finished", "valid"}
    assert record["prompt"] == "Describe a cat as JSON with a name and an age."
    assert 1 <= record["tokens"] <= 48
    assert record["logprob"] < 0 and record["seconds"] > 0
    if record["finished"]:
        json.loads(record["text"])  # the finished constrained text is JSON
        assert record["valid"] is True and result.returncode == 0
    else:  # cut by --max-new-tokens: a failed constraint
        assert record["valid"] is False and result.returncode == 1
        assert "max-new-tokens" in result.stderr


def test_generate_prompts_from_stdin_plain_output():
    result = cli("generate", "--regex", "(yes|no)", "--chat", "--max-new-tokens", "4",
                 input="Is the sky blue? Answer yes or no.\n\nIs fire cold? Answer yes or no.\n")
    assert result.returncode == 0, result.stderr
    samples = result.stdout.rstrip("\n").split("\n\n")  # separated by a blank line
    assert len(samples) == 2 and set(samples) <= {"yes", "no"}, result.stdout
    assert "2/2" in result.stderr  # the progress bar
    assert "Traceback" not in result.stderr


def test_generate_samples_with_constrained_sampler_and_seed():
    args = ["generate", "--grammar", "choices", "--chat", "--sampler", "constrained", "-n", "2",
            "--seed", "0", "--jsonl", "--max-new-tokens", "6",
            "--prompt", "Is 'I love it' positive, negative or neutral?"]
    result = cli(*args)
    assert result.returncode == 0, result.stderr
    records = jsonl(result.stdout)
    assert len(records) == 2
    for record in records:
        assert record["text"] in CHOICES and record["valid"] is True and record["finished"] is True


def test_generate_unconstrained_from_a_jsonl_prompts_file(tmp_path):
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text('{"prompt": "Say hello."}\n\n{"prompt": "Name a color.", "id": 2}\n',
                       encoding="utf-8")
    result = cli("generate", "--prompts", str(prompts), "--chat", "--jsonl",
                 "--max-new-tokens", "3")
    assert result.returncode == 0, result.stderr
    records = jsonl(result.stdout)
    assert [r["prompt"] for r in records] == ["Say hello.", "Name a color."]
    for record in records:
        assert record["valid"] is None
        assert 1 <= record["tokens"] <= 3 and record["logprob"] <= 0
        assert isinstance(record["finished"], bool) and isinstance(record["text"], str)


def test_generate_cut_by_max_new_tokens_is_a_failed_constraint():
    result = cli("generate", "--grammar", "json", "--chat", "--max-new-tokens", "2",
                 "--prompt", "Describe a cat as JSON.")
    assert result.returncode == 1
    assert result.stdout.strip()  # the (streamed) beginning of the answer
    assert "warning:" in result.stderr and "--max-new-tokens (2)" in result.stderr
    assert "Traceback" not in result.stderr


# -- examples --------------------------------------------------------------------------------------


def test_example_grammar_generate():
    result = subprocess.run([sys.executable, "examples/grammar_generate.py"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    record = json.loads(result.stdout.splitlines()[0])
    assert list(record) == ["name", "age", "color"]
    assert 1 <= record["age"] <= 99 and record["color"] in {"black", "white", "orange", "grey",
                                                             "brown"}
    assert f"parsed: name={record['name']!r}" in result.stdout


def test_example_aligned_sampling(tmp_path):
    out = tmp_path / "plot.png"
    result = subprocess.run([sys.executable, "examples/aligned_sampling.py", "--n", "400",
                             "--out", str(out)], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    kl = {m: float(v) for m, v in re.findall(r"^(gcd|asap): KL\(empirical \|\| exact\) after 400 "
                                             r"samples = ([0-9.]+)", result.stdout, re.MULTILINE)}
    assert kl["asap"] < kl["gcd"] / 2, result.stdout
    assert out.stat().st_size > 10_000


def test_example_exact_sampling():
    result = subprocess.run([sys.executable, "examples/exact_sampling.py", "--n", "60"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    first, last = map(float, re.search(r"first half ([0-9.]+), second half ([0-9.]+)",
                                       result.stdout).groups())
    assert last < first  # the acceptance rate rises as the trie learns
    texts = re.search(r"most frequent: (.*)", result.stdout).group(1)
    assert all(re.fullmatch(r"[1-9][-+*][1-9] \(\d+\)", t) for t in texts.split(", "))


def test_example_aded_speedup():
    result = subprocess.run([sys.executable, "examples/aded_speedup.py", "--max-new-tokens", "48"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "identical to plain greedy: True" in result.stdout
    per_pass = float(re.search(r"([0-9.]+) tokens per forward pass", result.stdout).group(1))
    assert per_pass > 1.2  # the copy task lets drafts through: fewer passes than tokens


def test_example_conditional_beam():
    result = subprocess.run([sys.executable, "examples/conditional_beam.py", "--max-new-tokens", "32"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    plain = re.findall(r"plain beam +\(([-0-9. ]+)\): (.*)", result.stdout)
    good = re.findall(r"not degenerate +\(([-0-9. ]+)\): (.*)", result.stdout)
    assert len(plain) == len(good) == 3
    assert all(text == "''" for _, text in plain)  # the degenerate mode
    assert all(text.strip("'\"").strip() for _, text in good)
    assert all(float(lp) < float(p) for (p, _), (lp, _) in zip(plain, good))


def test_example_best_of_n():
    result = subprocess.run([sys.executable, "examples/best_of_n.py", "--n", "6", "--m", "8"],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    rewards = {m: float(r) for m, r in re.findall(r"^(best|worst|tilted) *: .* reward ([0-9.]+),",
                                                  result.stdout, re.MULTILINE)}
    assert set(rewards) == {"best", "worst", "tilted"}
    assert rewards["worst"] <= rewards["tilted"] <= rewards["best"]
    assert "calibration cache: 1 prompt(s)" in result.stdout  # drawn once, reused by all modes


def test_example_navigation():
    result = subprocess.run([sys.executable, "examples/navigation.py", "--k", "6"], cwd=REPO,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    items = re.search(r"navigation, \d+ attempts, (\d+) distinct: (.*)", result.stdout)
    assert items and int(items.group(1)) >= 3
    assert "sampling,   6 attempts" in result.stdout


def test_example_cli_json_script():
    env = dict(os.environ, PYTHON=sys.executable, MAX_NEW_TOKENS="40")
    result = subprocess.run(["bash", "examples/cli_json.sh"], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^date: [12]\d{3}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$", result.stdout,
                     re.MULTILINE), result.stdout
    assert "rejected, as expected" in result.stdout
    [answer] = re.findall(r"^json: (.*)  \(\d+ tokens, valid=True\)$", result.stdout, re.MULTILINE)
    assert isinstance(json.loads(answer), dict)


def test_console_script():
    script = Path(sys.executable).parent / "guided-decoding"
    if not script.exists():
        pytest.skip("the console script is not installed (pip install -e .)")
    result = subprocess.run([str(script), "check", "--grammar", "choices", "neutral"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("ok"), result.stderr


# -- structural tags -------------------------------------------------------------------------------

CITY = {"type": "object", "additionalProperties": False, "required": ["city"],
        "properties": {"city": {"type": "string", "maxLength": 8}}}


def _tool_tag(**flags) -> dict:
    return {"type": "structural_tag", "format": {
        "type": "triggered_tags", "triggers": ["<tool_call>"], **flags,
        "tags": [{"begin": "<tool_call>", "content": {"type": "json_schema", "json_schema": CITY},
                  "end": "</tool_call>"}]}}


def test_check_structural_tag_agrees_with_the_matcher(tmp_path):
    from grammars import Grammar, text_matches

    spec = tmp_path / "tools.json"
    spec.write_text(json.dumps(_tool_tag()))
    grammar = Grammar.from_structural_tag(_tool_tag())
    texts = ['Sure. <tool_call>{"city": "Paris"}</tool_call> Done.', "just text, a <tool but no call",
             '<tool_call>{"town": "Paris"}</tool_call>', '<tool_call>{"city": "Paris"}', ""]
    expected = [True, True, False, False, True]
    assert [text_matches(grammar, t) for t in texts] == expected
    for text, ok in zip(texts, expected):
        result = cli("check", "--structural-tag", str(spec), text)
        assert result.returncode == (0 if ok else 1), (text, result.stderr)
        assert "Traceback" not in result.stderr
    inline = cli("check", "--structural-tag", json.dumps(_tool_tag()), texts[2])  # the JSON itself
    assert inline.returncode == 1 and inline.stderr.startswith("<text>:1:14: error: 't'"), inline.stderr
    bad = cli("check", "--structural-tag", '{"type": "triggered_tags", "triggers": []}', "x")
    assert bad.returncode == 1 and "format.triggers" in bad.stderr and "Traceback" not in bad.stderr


def test_generate_with_a_structural_tag(tmp_path):
    import jsonschema

    spec = tmp_path / "tools.json"
    spec.write_text(json.dumps(_tool_tag(at_least_one=True, stop_after_first=True)))  # a forced call
    result = cli("generate", "--structural-tag", str(spec), "--chat", "--jsonl", "--max-new-tokens", "32",
                 "--prompt", "What is the weather in Paris?")
    assert "Traceback" not in result.stderr
    [record] = jsonl(result.stdout)
    assert record["finished"] and record["valid"] and result.returncode == 0, (record, result.stderr)
    text = record["text"]
    assert text.startswith("<tool_call>") and text.endswith("</tool_call>"), text
    jsonschema.validate(json.loads(text[len("<tool_call>"):-len("</tool_call>")]), CITY)
