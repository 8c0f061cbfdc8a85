"""The grammar engine on small hand-made vocabularies and on the real tokenizer: matcher moves,
tokenization edge cases and every bad-input error."""

from __future__ import annotations

import pickle
import threading

import lark
import numpy as np
import pytest

from grammars import (
    EmptyLanguageError,
    EmptyMaskError,
    Grammar,
    text_matches,
    GrammarMatcher,
    GrammarSyntaxError,
    TokenRejectedError,
    UndefinedSymbolError,
    UnsupportedRegexError,
    Vocabulary,
    allocate_token_bitmask,
    bitmask_to_token_ids,
    bundled_grammar_names,
    compile_grammar,
)


def byte_vocab(*extra: bytes) -> Vocabulary:
    """Every single byte as a token, then ``extra`` tokens, then an EOS id (no bytes)."""
    tokens: list[bytes | None] = [bytes([b]) for b in range(256)] + list(extra) + [None]
    return Vocabulary(tokens, eos_token_ids=(len(tokens) - 1,))


def compile_text(text: str, vocab: Vocabulary | None = None):
    return compile_grammar(Grammar.from_lark(text), vocab or byte_vocab(), use_disk_cache=False)


def allowed_bytes_of(matcher: GrammarMatcher) -> set[bytes]:
    cg = matcher.compiled
    return {cg.token_bytes(int(i)) for i in matcher.allowed_token_ids() if i not in cg.eos_token_ids}


def walk(matcher: GrammarMatcher, text: bytes) -> None:
    for b in text:
        matcher.advance(b)


# -- matcher moves -----------------------------------------------------------------------------


def test_yes_no_language_exactly():
    m = GrammarMatcher(compile_text('start: "yes" | "no"'))
    assert allowed_bytes_of(m) == {b"y", b"n"}
    assert not m.is_accepting()
    walk(m, b"ye")
    assert allowed_bytes_of(m) == {b"s"}
    m.advance(ord("s"))
    assert m.is_accepting()
    assert m.allowed_token_ids().tolist() == [256]  # only EOS after a complete answer
    m.advance(256)
    assert m.is_finished()
    with pytest.raises(TokenRejectedError):
        m.advance(ord("x"))


def test_rejected_token_names_the_token_and_prefix():
    m = GrammarMatcher(compile_text('start: "yes" | "no"'))
    m.advance(ord("y"))
    with pytest.raises(TokenRejectedError, match=r"'y'"):
        m.advance(ord("n"))
    with pytest.raises(TokenRejectedError, match="not complete"):
        m.advance(256)  # EOS before the text is complete
    assert m.text() == "y"  # a rejected token leaves the state unchanged


def test_rollback_and_fork_restore_exact_state():
    cg = compile_grammar(Grammar.bundled("json"), byte_vocab(), use_disk_cache=False)
    m = GrammarMatcher(cg)
    walk(m, b'{"a": [1, ')
    before = m.allowed_token_ids()
    fork = m.fork()
    walk(m, b'2]}')
    assert m.is_accepting()
    assert not fork.is_accepting()
    m.rollback(3)
    assert np.array_equal(m.allowed_token_ids(), before)
    assert m.text() == '{"a": [1, '
    m.advance(256 if m.is_accepting() else ord("3"))
    assert fork.text() == '{"a": [1, '
    with pytest.raises(ValueError, match="cannot roll back"):
        m.rollback(100)


def test_multi_byte_tokens_cross_terminals_and_ignored_whitespace():
    vocab = byte_vocab(b'{"', b'": ', b'", "', b'"}', b"1, 2", b" ]")
    cg = compile_grammar(Grammar.bundled("json"), vocab, use_disk_cache=False)
    ids = {b: i for i, b in enumerate(vocab.token_bytes) if b is not None and len(b) > 1}
    m = GrammarMatcher(cg)
    allowed = set(m.allowed_token_ids().tolist())
    assert ids[b'{"'] in allowed and ids[b" ]"] not in allowed
    assert ids[b'": '] in allowed and ids[b'"}'] in allowed  # a string may begin with ": " or }
    for piece in [b'{"', b"k", b'": ', b"[", b"1, 2", b" ]", b", ", b'"', b"v", b'": ', b'"', b"w", b'"}']:
        if piece in ids:
            m.advance(ids[piece])
        else:
            walk(m, piece)
    assert m.is_accepting()
    assert lark.Lark(cg.grammar_text).parse(m.text())


def test_terminal_that_is_a_prefix_of_another_is_lexed_greedily():
    # "<" and "<=" in the expression grammar; "=" alone is not an operator there.
    cg = compile_grammar(Grammar.bundled("expression"), byte_vocab(b"<=", b"< ="), use_disk_cache=False)
    m = GrammarMatcher(cg)
    walk(m, b"a <")
    assert b"=" in allowed_bytes_of(m)  # "<=" still possible
    assert b" " in allowed_bytes_of(m)  # "<" then whitespace
    walk(m, b" ")
    assert b"=" not in allowed_bytes_of(m)  # "< =" is not "<="


def test_partial_utf8_tokens_walk_through_a_character():
    e_acute = "é".encode()  # two bytes: C3 A9
    cg = compile_grammar(Grammar.bundled("json"), byte_vocab(), use_disk_cache=False)
    m = GrammarMatcher(cg)
    walk(m, b'"')
    assert m.accepts_token(e_acute[0])
    m.advance(e_acute[0])
    allowed = allowed_bytes_of(m)
    assert allowed == {bytes([b]) for b in range(0x80, 0xC0)}  # only continuation bytes
    m.advance(e_acute[1])
    walk(m, b'"')
    assert m.is_accepting() and m.text() == '"é"'


def test_invalid_utf8_is_never_allowed():
    cg = compile_grammar(Grammar.bundled("json"), byte_vocab(), use_disk_cache=False)
    m = GrammarMatcher(cg)
    walk(m, b'"')
    allowed = allowed_bytes_of(m)
    for bad in (b"\xff", b"\xc0", b"\xc1", b"\xf5", b"\x80"):
        assert bad not in allowed


def test_several_eos_ids_and_padded_logits_width():
    tokens = [b"a", b"b", None, None]
    vocab = Vocabulary(tokens, eos_token_ids=(2, 3), logits_width=40)
    cg = compile_grammar(Grammar.from_lark('start: "a"+'), vocab, use_disk_cache=False)
    m = GrammarMatcher(cg)
    mask = allocate_token_bitmask(1, 40)
    assert mask.shape == (1, 2)
    m.fill_bitmask(mask)
    assert bitmask_to_token_ids(mask[0], 40).tolist() == [0]
    m.advance(0)
    m.fill_bitmask(mask)
    assert bitmask_to_token_ids(mask[0], 40).tolist() == [0, 2, 3]  # ids 4..39 (padding) never
    m.advance(3)
    assert m.is_finished()


def test_special_tokens_are_never_allowed(test_tokenizer):
    from decoding.tokenizers import vocabulary_from_hf

    vocab = vocabulary_from_hf(test_tokenizer)
    cg = compile_grammar(Grammar.from_lark("start: /[^x]+/"), vocab)
    allowed = set(GrammarMatcher(cg).allowed_token_ids().tolist())
    special = set(test_tokenizer.all_special_ids)
    assert special and not (special & allowed)
    assert len(allowed) > 40_000


def test_forced_continuation_jump_forward(test_tokenizer):
    from decoding.tokenizers import vocabulary_from_hf

    vocab = vocabulary_from_hf(test_tokenizer)
    grammar = Grammar.from_lark('start: "{\\"name\\": " NAME "}"\nNAME: /"[a-z]+"/')
    m = GrammarMatcher(compile_grammar(grammar, vocab))
    assert m.forced_bytes() == b'{"name": "'
    tokens = m.forced_tokens()
    assert b"".join(vocab.token_bytes[t] for t in tokens) == b'{"name": "'
    for t in tokens:
        m.advance(t)
    assert m.forced_bytes() == b""  # a name of several letters may follow


def test_compiled_grammar_pickles_and_is_shared_across_threads():
    cg = compile_grammar(Grammar.bundled("json"), byte_vocab(), use_disk_cache=False)
    clone = pickle.loads(pickle.dumps(cg))
    results: dict[int, list[int]] = {}

    def run(k: int, compiled) -> None:
        m = GrammarMatcher(compiled)
        walk(m, b'{"k": [true, ')
        results[k] = m.allowed_token_ids().tolist()

    threads = [threading.Thread(target=run, args=(k, cg if k % 2 else clone)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({tuple(v) for v in results.values()}) == 1


def test_disk_cache_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("GUIDED_DECODING_CACHE", str(tmp_path))
    from grammars import compiler

    grammar = Grammar.from_lark('start: "cache" "me"')
    vocab = byte_vocab()
    first = compile_grammar(grammar, vocab)
    assert list((tmp_path / "grammars").glob("*.pkl"))
    compiler._memory_cache.clear()
    second = compile_grammar(grammar, vocab)
    assert second is not first and second.key == first.key
    assert second.trie is first.trie  # one trie (and its slice masks) per vocabulary, not per file
    m = GrammarMatcher(second)
    walk(m, b"cacheme")
    assert m.is_accepting()


@pytest.mark.parametrize("name", bundled_grammar_names())
def test_bundled_grammars_compile_and_have_descriptions(name):
    from grammars import bundled_grammar_description

    assert bundled_grammar_description(name)
    cg = compile_grammar(Grammar.bundled(name), byte_vocab(), use_disk_cache=False)
    assert len(GrammarMatcher(cg).allowed_token_ids()) > 0


# -- bad input -----------------------------------------------------------------------------------


def test_malformed_grammar_reports_line_and_column():
    with pytest.raises(GrammarSyntaxError) as err:
        Grammar.from_lark('start: "a"\nitem: "b" (\n')
    assert err.value.line == 2 and err.value.column is not None
    assert "line 2" in str(err.value)


def test_undefined_rule_and_terminal_are_named():
    with pytest.raises(UndefinedSymbolError) as err:
        Grammar.from_lark("start: value\n")
    assert err.value.symbol == "value"
    with pytest.raises(UndefinedSymbolError) as err:
        Grammar.from_lark("start: NUMBER\n")
    assert err.value.symbol == "NUMBER"


def test_reduce_reduce_conflict_takes_the_general_path():
    grammar = Grammar.from_lark('start: a | b\na: X\nb: X\nX: "x"\n')
    assert grammar.conflicts == ("reduce/reduce on $END",)
    assert text_matches(grammar, "x") and not text_matches(grammar, "xx")


@pytest.mark.parametrize(
    "regex, feature", [("(?=ab)a", "look"), ("a(?=b)", "look"), ("(?<!x)a", "look"), (r"(a)\1", "backreference")]
)
def test_unsupported_regex_names_terminal_and_feature(regex, feature):
    grammar = Grammar.from_lark(f"start: TOKEN\nTOKEN: /{regex}/\n")
    with pytest.raises(UnsupportedRegexError) as err:
        compile_grammar(grammar, byte_vocab(), use_disk_cache=False)
    assert "TOKEN" in str(err.value) and feature in str(err.value).lower()


def test_empty_language_is_refused():
    with pytest.raises(EmptyLanguageError, match="start"):
        compile_text('start: "a" start\n')
    with pytest.raises(EmptyLanguageError, match="loop"):
        compile_text('start: "a" | "b" loop\nloop: "c" loop\n')


def test_common_escaped_string_import_works_without_lookbehind():
    grammar = Grammar.from_lark("start: ESCAPED_STRING\n%import common.ESCAPED_STRING\n")
    m = GrammarMatcher(compile_grammar(grammar, byte_vocab(), use_disk_cache=False))
    walk(m, b'"a\\"b"')
    assert m.is_accepting()


def test_unknown_bundled_grammar_lists_known_ones():
    with pytest.raises(Exception, match="json"):
        Grammar.bundled("no-such-grammar")


def test_process_stays_usable_after_errors():
    for bad in ['start: "a" (', "start: nope", "start: X\nX: /a(?=a)/"]:
        with pytest.raises(Exception):
            compile_text(bad)
    m = GrammarMatcher(compile_text('start: "ok"'))
    walk(m, b"ok")
    assert m.is_accepting()


def test_empty_mask_is_an_error_not_a_silent_row():
    vocab = Vocabulary([b"a", None], eos_token_ids=(1,))
    cg = compile_grammar(Grammar.from_lark('start: "a" "b"'), vocab, use_disk_cache=False)
    m = GrammarMatcher(cg)
    m.advance(0)  # now only "b" may follow, and no token spells it
    with pytest.raises(EmptyMaskError, match="'a'"):
        m.fill_bitmask(allocate_token_bitmask(1, 2))


def test_lazy_terminal_stops_at_its_first_end_like_lark():
    grammar = Grammar.from_lark('start: COMMENT "x"\nCOMMENT: /\\/\\*(.|\\n)*?\\*\\//\n')
    m = GrammarMatcher(compile_grammar(grammar, byte_vocab(), use_disk_cache=False))
    walk(m, b"/* a */")
    assert allowed_bytes_of(m) == {b"x"}  # the comment ended at the first */


def test_terminal_swallowed_by_greedy_lexing_is_refused_with_names():
    with pytest.raises(EmptyLanguageError, match=r"(?s)after terminal NAME only NAME.*separator"):
        compile_text('start: "#" NAME NAME | "."\nNAME: /[a-z]+/\n')
    # the same two names with whitespace between them are fine
    m = GrammarMatcher(compile_text('start: NAME NAME\nNAME: /[a-z]+/\n%ignore " "\n'))
    walk(m, b"ab cd")
    assert m.is_accepting()


def test_token_counts_and_full_rollback():
    m = GrammarMatcher(compile_text('start: "ab"'))
    assert m.num_tokens == 0
    walk(m, b"ab")
    m.advance(256)
    assert m.num_tokens == 3 and m.is_finished()
    m.rollback(3)
    assert m.num_tokens == 0 and m.text() == "" and allowed_bytes_of(m) == {b"a"}
    with pytest.raises(ValueError):
        m.rollback(1)


def test_same_length_tie_between_regexes_follows_lark():
    """lark lexes "count" as NAME (the wider regex), so FUNC can never be used here."""
    text = 'start: FUNC "(" ")" | NAME\nFUNC: "count" | "sum"\nNAME: /[a-z]+/\n'
    cg = compile_text(text)
    for sample, in_language in [("count", True), ("count()", False)]:
        m = GrammarMatcher(cg)
        assert (m.advance_bytes(sample.encode()) and m.is_accepting()) == in_language
        try:
            lark.Lark(text, parser="lalr").parse(sample)
            lark_says = True
        except lark.exceptions.LarkError:
            lark_says = False
        assert lark_says == in_language


def test_templates_inlined_rules_and_a_chosen_start_rule():
    text = (
        '_separated{x, sep}: x (sep x)*\n'
        'start: "[" _separated{item, ","} "]"\n'
        '?item: NUMBER | pair\n'
        'pair: "(" NUMBER NUMBER ")"\n'
        'other: "<" NUMBER ">"\n'
        "%import common.NUMBER\n%ignore \" \"\n"
    )
    m = GrammarMatcher(compile_text(text))
    walk(m, b"[1, (2 3),4]")
    assert m.is_accepting()
    other = compile_grammar(Grammar.from_lark(text, start="other"), byte_vocab(),
                            use_disk_cache=False)
    m = GrammarMatcher(other)
    assert allowed_bytes_of(m) == {b"<", b" "}
    walk(m, b"<7>")
    assert m.is_accepting()
