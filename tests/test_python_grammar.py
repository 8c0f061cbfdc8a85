"""lark's own python.lark (start ``file_input``, ``indenter="python"``) against lark's LALR parser
with its ``PythonIndenter`` as the oracle: Python snippets and mutations of them, the lookahead
edge cases of STRING and DEC_NUMBER, random matcher walks, and samples of the test model."""

from __future__ import annotations

import os
import random
from pathlib import Path

import lark
import pytest
from lark.indenter import PythonIndenter

from grammars import Grammar, byte_vocabulary, compile_grammar
from grammars.matcher import GrammarMatcher, text_matches

from indent_walks import lark_accepts, random_walks  # tests/ is on sys.path (pytest rootdir insertion)

PYTHON_LARK = Path(lark.__file__).parent / "grammars" / "python.lark"

SNIPPETS = [
    "x = 1\n", "def f(a, b=2, *c, **d):\n    return a + b\n",
    'if x:\n    pass\nelif y:\n    z = [1, 2,\n  3]\nelse:\n    y = """a\nb"""\n',
    "class A(B):\n    def g(self):\n        return self.x[1:2]\n",
    "x = 0o17 + 0x1f + 1_000 + 0.5e3 + 3j + 00 + 1.\n", "s = b'a\\'b' r\"c\" u''\n",
    'match p:\n    case [1, 2, *rest]:\n        pass\n    case {"a": 1, **kw}:\n        pass\n'
    "    case Point(x=0) | None:\n        pass\n",
    "for i in range(10):  # loop\n    print(i)\n# done\n", "while True:\n\tbreak\n",
    "lambda x, *y: x if y else -x\n", "async def f():\n    await g()\n    async with a as b:\n        pass\n",
    "try:\n    pass\nexcept E as e:\n    raise\nfinally:\n    del x\n", "x = (yield)\n", "@dec\ndef f(): pass\n",
    "a = {k: v for k, v in d.items() if k}\n", 'print(f"{x}")\n', 'x = "" "a"\n', "x = ''\n",
    "global a, b\n", "with open(f) as g, h:\n  pass\n", "x = 1 + \\\n  2\n",
]
# Past-the-token lookaheads (STRING's (?!""), DEC_NUMBER's (?![1-9])), comments, dedents.
EDGES = ['x = """"\n', 'x = """a"""\n', 'x = """a""""\n', 'x = ""\n', 'x = """\n', "x = 01\n", "x = 00\n",
         "x = 0_01\n", "x = 01j\n", "x = 01.5\n", "x = 0x\n", 'match a:\n    case """a""":\n        pass\n',
         'match a:\n    case "":\n        pass\n', "x = 1 # c", "x = 1 # c\n", "if a:\n    b\n  c\n",
         "if a:\n    b\n", "if a:\n    b", "(a,\nb)\n", "x = [1,\n", "x = 1)\n", "\n\n", "", "  x = 1\n",
         "x = 1\n    # indented comment\ny = 2\n", "def f():\n\treturn\n", "x = 'a\\\nb'\n"]


@pytest.fixture(scope="module")
def python():
    oracle = lark.Lark.open(str(PYTHON_LARK), parser="lalr", postlex=PythonIndenter(), start="file_input")
    return Grammar.load(str(PYTHON_LARK), start="file_input", indenter="python"), oracle


def test_python_lark_compiles_and_agrees_on_snippets(python):
    g, oracle = python
    assert all(lark_accepts(oracle, s) for s in SNIPPETS)
    for text in SNIPPETS + EDGES:
        assert text_matches(g, text) == lark_accepts(oracle, text), repr(text)
    assert sum(lark_accepts(oracle, s) for s in EDGES) > 5 and not all(lark_accepts(oracle, s) for s in EDGES)


def test_python_mutations_agree_with_lark(python):
    g, oracle = python
    rng = random.Random(1)
    alphabet = list(" \n\t'\"#\\0123456789abxejJ_.:()[]{},=+*-@")
    accepted = 0
    for _ in range(300):
        text = rng.choice(SNIPPETS)
        for _ in range(rng.randint(1, 3)):
            i, op = rng.randrange(len(text) + 1), rng.random()
            if op < 0.4:
                text = text[:i] + rng.choice(alphabet) + text[i:]
            elif op < 0.8:
                text = text[:i] + text[i + 1:]
            else:
                j = rng.randrange(len(text) + 1)
                text = text[:i] + text[j:j + 5] + text[i:]
        ours = text_matches(g, text)
        assert ours == lark_accepts(oracle, text), repr(text)
        accepted += ours
    assert accepted > 20


def test_python_random_walks_are_sound_and_never_dead_end(python):
    g, oracle = python
    cg = compile_grammar(g, byte_vocabulary())
    finished = random_walks(cg, oracle, random.Random(2), walks=40, steps=60, ascii_share=0.95)
    assert finished > 10


# The 500 samples: GD_PYTHON_SAMPLES=500 (minutes on 2 cores: the model dominates); CI runs 2.
SAMPLES = int(os.environ.get("GD_PYTHON_SAMPLES", "2"))


def test_test_model_samples_parse_with_lark(python, test_model, test_tokenizer):
    """Samples of the test model under python.lark (``SAMPLES`` of at most 20 tokens, in batches
    of 25): no empty mask (generation would raise), every finished sample parses with lark, every
    unfinished one is a prefix the grammar can go on from whose longest complete prefix lark parses."""
    import torch

    from decoding.hf import GrammarLogitsProcessor, compile_for_tokenizer

    g, oracle = python
    cg = compile_for_tokenizer(g, test_tokenizer, model=test_model)
    ids = test_tokenizer.apply_chat_template(
        [{"role": "system", "content": "Reply with Python code only: no prose, no Markdown."},
         {"role": "user", "content": "Write a short Python function."}], add_generation_prompt=True,
        return_tensors="pt", return_dict=True)["input_ids"]
    torch.manual_seed(0)
    eos = set(cg.eos_token_ids)
    rows: list[list[int]] = []
    for batch in range(0, SAMPLES, 25):
        out = test_model.generate(ids, logits_processor=[GrammarLogitsProcessor(cg)], max_new_tokens=20,
                                  do_sample=True, num_return_sequences=min(25, SAMPLES - batch),
                                  pad_token_id=test_tokenizer.eos_token_id)
        rows += out.tolist()
    finished = complete = 0
    for row in rows:
        new = row[ids.shape[1]:]
        end = next((i for i, t in enumerate(new) if t in eos), None)
        m, last = GrammarMatcher(cg), 0
        for i, t in enumerate(new[:end]):
            m.advance(t)  # raises TokenRejectedError if the mask let a wrong token through
            last = i + 1 if m.is_accepting() else last
        if end is not None:
            finished += 1
            assert m.is_accepting() and lark_accepts(oracle, test_tokenizer.decode(new[:end]))
        elif last:  # the longest prefix the grammar may end at is a program for lark too
            complete += 1
            assert lark_accepts(oracle, test_tokenizer.decode(new[:last])), test_tokenizer.decode(new[:last])
    assert len(rows) == SAMPLES
    print(f"python.lark samples: {SAMPLES}, finished {finished}, unfinished with a complete prefix {complete}")
