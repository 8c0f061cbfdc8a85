"""JSON-Schema-Test-Suite (draft 2020-12) through the JSON Schema -> grammar translator.

For every test group: compile the schema (or count its instances as ``refused``); for every
instance, serialise it in the grammar's form (``serialize_instance``) and walk its SmolLM2 tokens
through the matcher. valid+accepted / invalid+rejected = passed; invalid+accepted = false positive;
valid+rejected = false negative. Prints a per-file table, then one JSON line of totals.

    .venv/bin/python benchmarks/json_schema_suite.py [--quick] [--files a.json b.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import time
import warnings
from pathlib import Path

VERSION = "4.26.0"
CACHE = Path.home() / ".cache" / "guided-decoding" / "json-schema-test-suite"
QUICK = ["type.json", "enum.json", "const.json", "properties.json", "required.json", "items.json",
         "minimum.json", "maxLength.json", "anyOf.json", "ref.json"]


def suite_dir() -> Path:
    out = CACHE / "draft2020-12"
    if out.is_dir() and any(out.glob("*.json")):
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    sdist = CACHE / f"jsonschema-{VERSION}.tar.gz"
    if not sdist.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                        f"jsonschema=={VERSION}", "-d", str(CACHE)], check=True)
    out.mkdir(exist_ok=True)
    prefix = f"jsonschema-{VERSION}/json/tests/draft2020-12/"
    with tarfile.open(sdist) as tar:
        for m in tar.getmembers():
            if m.name.startswith(prefix) and m.name.endswith(".json") and "/" not in m.name[len(prefix):]:
                (out / m.name[len(prefix):]).write_bytes(tar.extractfile(m).read())
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only a few files")
    ap.add_argument("--files", nargs="*", help="file names in draft2020-12/")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from decoding.hf import compile_for_tokenizer
    from decoding.models import load_test_model
    from grammars import GrammarError, GrammarMatcher, TokenRejectedError
    from grammars.json_schema import grammar_from_json_schema, serialize_instance

    model, tok = load_test_model()
    folder = suite_dir()
    files = sorted(folder.glob("*.json"))
    if args.files:
        files = [folder / f for f in args.files]
    elif args.quick:
        files = [folder / f for f in QUICK]
    totals = dict(passed=0, false_positive=0, false_negative=0, refused=0, unserializable=0, total=0)
    compile_times = []
    print(f"{'file':32} {'pass':>5} {'FP':>4} {'FN':>4} {'ref':>4} {'unser':>5} {'total':>5}")
    for f in files:
        row = dict.fromkeys(totals, 0)
        for group in json.loads(f.read_text()):
            tests = group["tests"]
            row["total"] += len(tests)
            t0 = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    cg = compile_for_tokenizer(grammar_from_json_schema(group["schema"]), tok, model=model)
            except (GrammarError, RecursionError, ValueError, TypeError, KeyError) as e:
                row["refused"] += len(tests)
                continue
            compile_times.append(time.perf_counter() - t0)
            for t in tests:
                try:
                    text = serialize_instance(group["schema"], t["data"])
                except Exception:
                    row["unserializable"] += 1
                    continue
                m = GrammarMatcher(cg)
                ok = True
                try:
                    for tid in tok.encode(text, add_special_tokens=False):
                        m.advance(tid)
                    ok = m.is_accepting()
                except TokenRejectedError:
                    ok = False
                if ok == t["valid"]:
                    row["passed"] += 1
                elif ok:
                    row["false_positive"] += 1
                else:
                    row["false_negative"] += 1
        for k in totals:
            totals[k] += row[k]
        print(f"{f.name:32} {row['passed']:5} {row['false_positive']:4} {row['false_negative']:4} "
              f"{row['refused']:4} {row['unserializable']:5} {row['total']:5}", flush=True)
    compile_times.sort()
    if compile_times:
        totals["compile_p50_ms"] = round(1000 * compile_times[len(compile_times) // 2], 2)
        totals["compile_p99_ms"] = round(1000 * compile_times[min(len(compile_times) - 1, int(len(compile_times) * 0.99))], 2)
    print(json.dumps(totals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
