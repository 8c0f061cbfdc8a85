"""The documents and grammars of ``benchmarks/mask_latency.py``.

Documents are the test model's own outputs under each grammar, written once by
``benchmarks/make_mask_docs.py`` into ``benchmarks/data/mask_docs_{workload}.jsonl`` (one JSON
object a line: ``prompt``, ``seed``, ``text``, ``ids``: SmolLM2's generated token ids).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DATA_DIR = Path(__file__).resolve().parent / "data"
GRAMMAR_DIR = REPO / "grammars" / "data"

PROMPTS = {
    "json": [
        "Describe a book as a JSON object with its title, author, year and genres.",
        "Give me a JSON object for a user profile: name, email, age and a list of hobbies.",
        "Return a JSON array of three cities with their country and population.",
        "Write the JSON for a product in an online shop, with price, stock and tags.",
        "Make a JSON object describing today's weather in Paris.",
        "Output a JSON object for a recipe with ingredients and steps.",
        "Give a JSON list of the planets of the solar system with their order from the sun.",
        "Write a JSON object describing a car: make, model, year, electric or not.",
        "Produce JSON for a calendar event with a title, a start time, an end time and attendees.",
        "Return a JSON object with the scores of a football match.",
        "Describe a company in JSON: name, founded, employees, offices.",
        "Write JSON for a movie with its cast and rating.",
    ],
    "sql": [
        "Write an SQL query that lists all customers from Germany.",
        "SQL: count the orders per status in the orders table.",
        "Write an SQL query to find the ten most expensive products.",
        "Give me the SQL to select the names of employees whose salary is above 50000.",
        "Write an SQL query joining orders and customers to show each order with its customer name.",
        "SQL query: the average score per class from the results table.",
        "Write an SQL query that finds users who signed up in 2024.",
        "SQL: select the titles of books by the author 'Tolkien', newest first.",
        "Write an SQL query that sums the quantity of each product sold.",
        "Give the SQL to list distinct cities from the addresses table.",
        "SQL: the five most recent posts with their authors.",
        "Write an SQL query for the number of employees per department.",
    ],
    "python": [
        "Write a Python function that returns the factorial of n.",
        "Write a Python function to check whether a string is a palindrome.",
        "Write Python code that reads a list of numbers and prints their average.",
        "Write a Python class for a bank account with deposit and withdraw methods.",
        "Write a Python function that returns the n-th Fibonacci number.",
        "Write a Python function that counts the words in a sentence.",
        "Write a Python function that sorts a list of dictionaries by the key 'age'.",
        "Write Python code that prints the even numbers from 1 to 20.",
        "Write a Python function that merges two sorted lists.",
        "Write a Python function that returns the largest element of a list.",
        "Write a Python function that reverses a string.",
        "Write a Python function that tests whether a number is prime.",
    ],
    "general": [
        "Write an arithmetic expression that computes the area of a 3 by 4 rectangle plus 10.",
        "Give an arithmetic expression with parentheses that equals 24.",
        "Write the formula for the average of a, b and c as an arithmetic expression.",
        "Write an arithmetic expression for the price of 3 apples at 0.5 each minus a discount d.",
        "Give an arithmetic expression that converts x degrees Celsius to Fahrenheit.",
        "Write an arithmetic expression for the perimeter of a rectangle of width w and height h.",
        "Write an arithmetic expression mixing +, -, * and / over the numbers 1 to 6.",
        "Give an arithmetic expression for the total cost of n items at price p with tax rate t.",
    ],
    "tag": [
        "What is the weather in Paris for the next 3 days, and what time is it in CET?",
        "I am flying to Tokyo. Tell me the weather there and the current UTC time.",
        "Check the weather in Lima and the time in PST, please.",
        "Can you look up the weather in Oslo for a week and the time in CET?",
        "Quelle est la météo à Montréal et quelle heure est-il en UTC ?",
        "I need the weather for Rome and the time in CET.",
        "Weather in Cairo for 5 days, then the UTC time.",
        "Tell me the time in PST and the weather in San José.",
        "What's the weather like in Berlin, and the time in UTC?",
        "Please get the weather in Sydney for 2 days and the time in PST.",
        "Look up London's weather and the current CET time.",
        "How is the weather in Madrid and what time is it in UTC?",
    ],
}

TAG_SYSTEM = (
    "You can call two tools. To call one, write <function=NAME>ARGUMENTS</function> where "
    'ARGUMENTS is JSON. Tools: weather (arguments {"city": string, "days": integer}) and clock '
    '(arguments {"zone": "UTC" | "CET" | "PST"}). Answer in one sentence, then call both tools, '
    'for example: Sure, let me check. <function=weather>{"city": "Rome", "days": 2}</function> '
    '<function=clock>{"zone": "CET"}</function> I will tell you the results.'
)

# The ``general_`` workload: an ambiguous expression grammar written for lark's Earley parser
# (not LALR(1): our general path; llguidance and xgrammar take it too).
AMBIGUOUS_ARITHMETIC = r"""
start: e
e: e "+" e | e "-" e | e "*" e | e "/" e | "(" e ")" | "-" e | NUMBER | NAME
NUMBER: /[0-9]+(\.[0-9]+)?/
NAME: /[a-z_][a-z0-9_]*/
%ignore " "
"""

_CALL = re.compile(r"<function=(\w+)>(.*?)</function>", re.S)


def python_lark_path() -> Path:
    """lark's own ``python.lark`` (the large real-language grammar)."""
    import lark

    return Path(lark.__file__).parent / "grammars" / "python.lark"


def grammar_text(workload: str) -> str:
    """The Lark text of a workload's grammar (``json``, ``sql``, ``python``, ``general``)."""
    if workload == "python":
        return python_lark_path().read_text(encoding="utf-8")
    if workload == "general":
        return AMBIGUOUS_ARITHMETIC
    return (GRAMMAR_DIR / f"{workload}.lark").read_text(encoding="utf-8")


def grammar_for(workload: str) -> Any:
    """What ``decoding.hf.compile_for_tokenizer`` takes for a workload: a bundled name, a
    ``Grammar`` or the structural tag (a dict)."""
    if workload == "tag":
        from structural_tag import STRUCTURAL_TAG

        return STRUCTURAL_TAG
    if workload == "python":
        from grammars import Grammar

        return Grammar.from_lark(grammar_text("python"), start="file_input", indenter="python")
    if workload == "general":
        from grammars import Grammar

        return Grammar.from_lark(AMBIGUOUS_ARITHMETIC)
    return workload


def tool_calls(text: str) -> list[tuple[str, str]]:
    """The complete ``<function=NAME>ARGS</function>`` calls in ``text``, as (name, args)."""
    return _CALL.findall(text)


def load_docs(workload: str) -> list[dict]:
    """The committed documents of a workload; a clear error when the file is missing or bad."""
    path = DATA_DIR / f"mask_docs_{workload}.jsonl"
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run benchmarks/make_mask_docs.py --only {workload}")
    docs = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            doc = json.loads(line)
        except json.JSONDecodeError as e:
            raise SystemExit(f"{path}:{n}: not JSON ({e})") from None
        if not isinstance(doc.get("text"), str) or not isinstance(doc.get("ids"), list):
            raise SystemExit(f"{path}:{n}: needs a 'text' string and an 'ids' list")
        docs.append(doc)
    if not docs:
        raise SystemExit(f"{path} holds no documents")
    return docs


def check_documents(workload: str, docs: list[dict]) -> None:
    """Every document must be in its grammar's language by lark's own parser (and JSON by
    ``json``; the structural tag's documents: two calls with JSON arguments)."""
    import lark

    if workload == "tag":
        for d in docs:
            calls = tool_calls(d["text"])
            if len(calls) < 2:
                raise SystemExit(f"tag document {d['text'][:60]!r}: fewer than two tool calls")
            for _, args in calls:
                json.loads(args)
        return
    if workload == "python":
        from lark.indenter import PythonIndenter

        parser = lark.Lark.open(str(python_lark_path()), parser="lalr", postlex=PythonIndenter(),
                                start="file_input")
    else:
        parser = lark.Lark(grammar_text(workload))
    for d in docs:
        try:
            parser.parse(d["text"])
            if workload == "json":
                json.loads(d["text"])
        except Exception as e:  # noqa: BLE001 - the message names the document
            raise SystemExit(f"{workload} document {d['text'][:60]!r} is not valid: {e}") from None
