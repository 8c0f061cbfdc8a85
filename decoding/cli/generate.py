"""``generate``: text from a Hugging Face model under a constraint (or none), greedy, sampled,
grammar-aligned (ASAp, exact) or drafted (ADED)."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .constraints import Constraint, grammar_error, grammar_text, load_constraint, text_parses
from .errors import ALIGNED_SAMPLERS, EXIT_FAILED, EXIT_OK, EXIT_USAGE, PROG, CliError, os_message


@dataclass
class Sample:
    prompt: str
    text: str
    tokens: int
    logprob: float
    seconds: float
    finished: bool
    valid: bool | None

    def record(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "text": self.text,
            "tokens": self.tokens,
            "logprob": self.logprob,
            "seconds": self.seconds,
            "finished": self.finished,
            "valid": self.valid,
        }


def read_prompts(args: argparse.Namespace) -> list[str]:
    """Prompts from --prompt, --prompts FILE, or stdin (one per line)."""
    prompts = list(args.prompt or [])
    if args.prompts is not None:
        prompts += _read_prompt_file(args.prompts)
    elif not prompts:
        if sys.stdin.isatty():
            print("reading prompts from stdin, one per line (end with Ctrl-D)", file=sys.stderr)
        prompts = _prompt_lines(sys.stdin.read())
    if not prompts:
        raise CliError(f"{PROG} generate: error: no prompt: give --prompt TEXT, --prompts FILE, "
                       "or prompts on stdin (one per line)", code=EXIT_USAGE)
    return prompts


def _prompt_lines(text: str) -> list[str]:
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


def _read_prompt_file(name: str) -> list[str]:
    if name == "-":
        return _prompt_lines(sys.stdin.read())
    try:
        text = Path(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CliError(f"{name}: error: cannot read the prompts: {os_message(e)}") from e
    if not name.endswith(".jsonl"):
        return _prompt_lines(text)
    prompts = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise CliError(f"{name}:{number}:{e.colno}: error: not JSON: {e.msg}") from e
        if not isinstance(obj, dict) or not isinstance(obj.get("prompt"), str):
            raise CliError(f"{name}:{number}: error: expected a JSON object with a string field "
                           "\"prompt\"")
        prompts.append(obj["prompt"])
    return prompts


def load_model(spec: str, dtype_name: str, device: str):
    """``(model, tokenizer)``: the bundled test model, or a Hugging Face folder."""
    import torch

    dtype = getattr(torch, dtype_name)
    if spec == "test":
        from decoding.models import load_test_model

        model, tokenizer = load_test_model(dtype)
    else:
        path = Path(spec)
        if not path.is_dir():
            raise CliError(f"{spec}: error: not a model folder (give a Hugging Face model folder, "
                           "or `test` for the bundled test model)")
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        model.eval()
    if device != "cpu":
        model.to(device)
    return model, tokenizer


def _eos_ids(model, tokenizer) -> set[int]:
    ids: set[int] = set()
    for value in (getattr(model.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        if isinstance(value, int):
            ids.add(value)
        elif value is not None:
            ids.update(int(v) for v in value)
    return ids


def _encode(tokenizer, prompt: str, chat: bool, device: str) -> dict:
    if chat:
        if not getattr(tokenizer, "chat_template", None):
            raise CliError(f"{PROG}: error: the tokenizer has no chat template; leave out --chat")
        inputs = tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
                                               add_generation_prompt=True, return_tensors="pt",
                                               return_dict=True)
    else:
        inputs = tokenizer(prompt, return_tensors="pt")
    if inputs["input_ids"].shape[1] == 0:
        raise CliError(f"{PROG}: error: the prompt {prompt!r} has no tokens (an empty prompt "
                       "needs --chat)")
    return {k: v.to(device) for k, v in inputs.items() if k in ("input_ids", "attention_mask")}


def cmd_generate(args: argparse.Namespace) -> int:
    aligned = args.sampler in ALIGNED_SAMPLERS
    if aligned and all(getattr(args, k) is None for k in ("grammar", "regex", "json_schema", "structural_tag")):
        raise CliError(f"{PROG}: error: --sampler {args.sampler} samples under a constraint: "
                       "give --grammar, --regex, --json-schema or --structural-tag")
    if args.trie is not None and not aligned:
        raise CliError(f"{PROG}: error: --trie goes with --sampler asap or exact")
    if args.drafter is not None and aligned:
        raise CliError(f"{PROG}: error: --drafter goes with --sampler greedy or constrained")
    if args.trigram_table is not None and args.drafter is None:
        raise CliError(f"{PROG}: error: --trigram-table goes with --drafter aded")
    if args.model != "test" and not Path(args.model).is_dir():
        raise CliError(f"{args.model}: error: not a model folder (give a Hugging Face model "
                       "folder, or `test` for the bundled test model)")
    constraint = load_constraint(args)  # grammar errors before the model loads
    prompts = read_prompts(args)
    if args.trie is not None and len(prompts) != 1:
        raise CliError(f"{PROG}: error: --trie holds what was learnt for one prompt; "
                       f"got {len(prompts)} prompts")
    if args.num_samples > 1 and args.sampler == "greedy":
        print(f"note: -n {args.num_samples} with --sampler greedy gives the same text every time",
              file=sys.stderr)

    import torch
    import transformers
    from tqdm import tqdm

    from decoding.hf import GrammarLogitsProcessor, compile_for_tokenizer
    from grammars import GrammarError

    if not args.debug:
        transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    model, tokenizer = load_model(args.model, args.dtype, args.device)
    processor = None
    if constraint is not None:
        try:
            compiled = compile_for_tokenizer(constraint.for_tokenizer, tokenizer, model=model)
        except GrammarError as e:
            raise grammar_error(e, constraint.label, grammar_text(constraint)) from e
        processor = GrammarLogitsProcessor(compiled)
    if aligned:
        return _generate_aligned(args, model, tokenizer, constraint, prompts)
    drafting = _drafting_kwargs(args, tokenizer)
    eos = _eos_ids(model, tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else min(eos, default=0)
    sampling = args.sampler == "constrained"
    config = transformers.GenerationConfig(
        max_new_tokens=args.max_new_tokens,
        do_sample=sampling,
        temperature=args.temperature if sampling else None,
        top_k=0 if sampling else None,
        top_p=1.0 if sampling else None,
        eos_token_id=sorted(eos) or None,
        pad_token_id=pad,
        bos_token_id=getattr(model.generation_config, "bos_token_id", None),
        output_logits=True,
        return_dict_in_generate=True,
    )
    if args.seed is not None:
        transformers.set_seed(args.seed)

    total = len(prompts) * args.num_samples
    stream = total == 1 and not args.jsonl
    failures = 0
    written = 0
    bar = tqdm(total=total, unit="sample", desc="generating", file=sys.stderr, disable=total <= 1,
               dynamic_ncols=True)

    def emit(line: str) -> None:
        if bar.disable:
            print(line, flush=True)
        else:
            bar.write(line, file=sys.stdout)
            sys.stdout.flush()

    def warn(message: str) -> None:
        if bar.disable:
            print(message, file=sys.stderr, flush=True)
        else:
            bar.write(message, file=sys.stderr)

    with bar:
        for p, prompt in enumerate(prompts):
            inputs = _encode(tokenizer, prompt, args.chat, args.device)
            prompt_len = inputs["input_ids"].shape[1]
            for s in range(args.num_samples):
                if processor is not None:
                    processor.reset()  # one row per call: nothing to keep from the last one
                streamer = (transformers.TextStreamer(tokenizer, skip_prompt=True,
                                                      skip_special_tokens=True) if stream else None)
                start = time.perf_counter()
                with torch.inference_mode():
                    out = model.generate(**inputs, generation_config=config,
                                         logits_processor=[processor] if processor else None,
                                         streamer=streamer, **drafting)
                seconds = time.perf_counter() - start
                sample = _sample(prompt, out, prompt_len, tokenizer, eos, seconds, constraint)
                where = f"prompt {p + 1}, sample {s + 1}: " if total > 1 else ""
                if constraint is not None and not sample.valid:
                    failures += 1
                    if not sample.finished:
                        warn(f"warning: {where}the output was cut by --max-new-tokens "
                             f"({args.max_new_tokens}) before it was complete: it does not parse "
                             f"with {constraint.label}; raise --max-new-tokens")
                    else:
                        warn(f"error: {where}the output ended but does not parse with "
                             f"{constraint.label} (a bug in the grammar engine; please report it)")
                if args.jsonl:
                    emit(json.dumps(sample.record(), ensure_ascii=False))
                elif not stream:
                    emit(("\n" if written else "") + sample.text)
                written += 1
                bar.update(1)
    if args.trigram_table is not None:
        drafting["trigram_table"].save(args.trigram_table)
    if failures:
        print(f"{PROG}: {failures} of {total} constrained output(s) failed the constraint",
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _drafting_kwargs(args: argparse.Namespace, tokenizer) -> dict:
    """``generate`` arguments for --drafter aded (none without it)."""
    if args.drafter is None:
        return {}
    from decoding.drafting import aded_generate, load_trigram_table, tokenizer_fingerprint
    from drafters import TrigramTable

    table = TrigramTable(tokenizer_fingerprint(tokenizer))
    if args.trigram_table is not None and Path(args.trigram_table).exists():
        try:
            table = load_trigram_table(args.trigram_table, tokenizer)
        except ValueError as e:
            raise CliError(f"{args.trigram_table}: error: {str(e).split(': ', 1)[-1]}") from e
    return {"custom_generate": aded_generate, "trigram_table": table}


def _generate_aligned(args: argparse.Namespace, model, tokenizer, constraint: Constraint,
                      prompts: list[str]) -> int:
    """--sampler asap/exact: grammar-aligned samples, one trie per prompt."""
    from decoding.aligned import prompt_ids, sample_aligned
    from samplers import SamplingError, TrieMismatchError, UnsatisfiableError

    failures = 0
    for p, prompt in enumerate(prompts):
        ids = prompt_ids(tokenizer, prompt, chat=args.chat)
        if not ids:
            raise CliError(f"{PROG}: error: the prompt {prompt!r} has no tokens (an empty prompt "
                           "needs --chat)")
        start = time.perf_counter()
        try:
            run = sample_aligned(model, tokenizer, ids, constraint.for_tokenizer, args.num_samples,
                                 mode=args.sampler, max_new_tokens=args.max_new_tokens,
                                 temperature=args.temperature, seed=args.seed, trie_path=args.trie,
                                 progress=args.num_samples > 1)
        except TrieMismatchError as e:
            raise CliError(f"{args.trie}: error: {str(e).split(': ', 1)[1]}") from e
        except (UnsatisfiableError, SamplingError) as e:
            raise CliError(f"{PROG}: error: prompt {p + 1}: {e}") from e
        seconds = (time.perf_counter() - start) / max(len(run.samples), 1)
        for k, s in enumerate(run.samples):
            valid = text_parses(constraint.grammar, s.text)
            failures += not valid
            if args.jsonl:
                record = Sample(prompt=prompt, text=s.text, tokens=len(s.token_ids),
                                logprob=round(s.logprob, 4), seconds=round(seconds, 3),
                                finished=True, valid=valid).record()
                weight = float(f"{math.exp(s.log_weight):.6g}") if args.sampler == "asap" else 1.0
                record.update(weight=weight, attempts=s.attempts)
                print(json.dumps(record, ensure_ascii=False), flush=True)
            else:
                print(("\n" if p or k else "") + s.text, flush=True)
        print(f"{args.sampler}: prompt {p + 1}: theta(root) = {run.theta_root:.4g} (upper bound on "
              f"the model's probability of a grammatical output), {run.forward_passes} forward "
              "passes", file=sys.stderr)
    if failures:
        print(f"{PROG}: {failures} sample(s) failed the constraint (a bug; please report it)",
              file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def decode_output(tokenizer, ids, constraint: Constraint | None) -> str:
    """The text of generated ids (end-of-sequence left out). Special tokens are left out, except
    under a structural tag whose tags they spell (``<tool_call>`` as one token): they are text."""
    if constraint is None or not constraint.special_texts:
        return tokenizer.decode(ids, skip_special_tokens=True)
    keep = constraint.special_texts
    special = set(getattr(tokenizer, "all_special_ids", []))
    return tokenizer.decode([int(i) for i in ids if int(i) not in special
                             or tokenizer.convert_ids_to_tokens(int(i)) in keep], skip_special_tokens=False)


def _sample(prompt: str, out, prompt_len: int, tokenizer, eos: set[int], seconds: float,
            constraint: Constraint | None) -> Sample:
    import torch

    ids = out.sequences[0, prompt_len:]
    logprob = 0.0
    if len(ids):
        logits = torch.stack([step[0] for step in out.logits[: len(ids)]]).float()
        logprob = float(torch.log_softmax(logits, dim=-1).gather(1, ids.view(-1, 1)).sum())
    finished = bool(len(ids)) and int(ids[-1]) in eos
    text = decode_output(tokenizer, ids[:-1] if finished else ids, constraint)
    valid = None
    if constraint is not None:
        valid = text_parses(constraint.grammar, text)
    return Sample(prompt=prompt, text=text, tokens=int(len(ids)), logprob=round(logprob, 4),
                  seconds=round(seconds, 3), finished=finished, valid=valid)
