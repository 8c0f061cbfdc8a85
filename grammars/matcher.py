"""`GrammarMatcher`: the small per-sequence cursor over a :class:`CompiledGrammar`.

Its state is a parser stack and a lexer state, plus the history needed for ``rollback``. Copying it
(``fork``) copies a list of references; the heavy arrays stay in the compiled grammar.
"""

from __future__ import annotations

import numpy as np

from . import kernels
from .bitmask import allocate_token_bitmask, bitmask_to_token_ids
from .compiler import CompiledGrammar, MatchState
from .errors import EmptyMaskError, TokenRejectedError
from .parsing.general import general_parser
from .parsing.glr import GeneralParser, GeneralState
from .unique_items import UniqueItems


class GrammarMatcher:
    """Tracks one sequence through a compiled grammar and says which tokens may come next.

    Example:
        >>> from grammars import Grammar, Vocabulary, compile_grammar
        >>> vocab = Vocabulary([b"yes", b"no", b"y", b"es", None], eos_token_ids=(4,))
        >>> cg = compile_grammar(Grammar.from_lark('start: "yes" | "no"'), vocab, use_disk_cache=False)
        >>> m = GrammarMatcher(cg)
        >>> m.allowed_token_ids().tolist()
        [0, 1, 2]
        >>> m.advance(2); m.allowed_token_ids().tolist()
        [3]
        >>> m.advance(3); m.is_accepting(), m.allowed_token_ids().tolist()
        (True, [4])
    """

    __slots__ = ("compiled", "_state", "_finished", "_general", "_unique", "_track")

    def __init__(self, compiled: CompiledGrammar):
        self.compiled = compiled
        # a grammar with LALR(1) conflicts or an indenter runs on the general path (parser stacks)
        self._general: GeneralParser | None = (
            general_parser(compiled) if compiled.tables.general else None)
        self._state: MatchState | GeneralState = self._initial()
        self._finished = False
        # uniqueItems checked beside the grammar: a tracker state per advance, (state, previous)
        self._unique = UniqueItems.of(compiled)
        self._track = None if self._unique is None else (self._unique.initial, None)

    def _initial(self) -> "MatchState | GeneralState":
        return self._general.initial if self._general else self.compiled.initial_state

    # -- state -------------------------------------------------------------------------------
    @property
    def state(self) -> tuple:
        """(parser stack, lexer state) now; equal states allow the same continuations (in a grammar
        with uniqueItems arrays, when the items so far are the same too). On the general path: (the
        branches, each a (stack, lexer state) pair, and -1)."""
        if self._general:
            return self._state.branches, -1
        return self._state.stack, self._state.q

    @property
    def num_tokens(self) -> int:
        """Tokens advanced so far (an accepted end-of-sequence token counts)."""
        return self._state.depth + self._finished

    def is_finished(self) -> bool:
        """True once an end-of-sequence token was accepted."""
        return self._finished

    def fork(self) -> "GrammarMatcher":
        """An independent copy (for beams and drafts)."""
        other = GrammarMatcher.__new__(GrammarMatcher)
        other.compiled = self.compiled
        other._general = self._general
        other._state = self._state
        other._finished = self._finished
        other._unique, other._track = self._unique, self._track
        return other

    def reset(self) -> None:
        """Back to the empty prefix."""
        self._state = self._initial()
        self._finished = False
        if self._unique is not None:
            self._track = (self._unique.initial, None)

    def rollback(self, num_tokens: int = 1) -> None:
        """Undo the last ``num_tokens`` advances."""
        if num_tokens < 0 or num_tokens > self.num_tokens:
            raise ValueError(f"cannot roll back {num_tokens} tokens; {self.num_tokens} were advanced")
        if num_tokens and self._finished:
            self._finished = False
            num_tokens -= 1
        state, track = self._state, self._track
        for _ in range(num_tokens):
            state = state.parent
            track = track and track[1]
        self._state, self._track = state, track

    # -- queries -----------------------------------------------------------------------------
    def is_accepting(self) -> bool:
        """Whether the text so far is a complete string of the grammar (end-of-sequence allowed)."""
        if self._finished:
            return True
        if self._general:
            return self._general.is_accepting(self._state)
        stack, q = self.state
        cg = self.compiled
        while True:
            scratch = cg.scratch()
            ok = kernels.accepts_end(stack, q, cg.lexicon.accept, cg.tables.action,
                                     cg.tables.rule_len, cg.tables.rule_lhs, cg.tables.end_state,
                                     cg.tables.end_symbol, cg.lexicon.ignore,
                                     len(cg.lexicon.names), *scratch.pools())
            if ok >= 0:
                return bool(ok)
            scratch.grow()

    def fill_bitmask(self, bitmask: np.ndarray, index: int = 0) -> None:
        """Write the allowed tokens into row ``index`` of an int32 bitmask (see
        :func:`allocate_token_bitmask`).

        Raises :class:`EmptyMaskError` if nothing is allowed in an unfinished state (a bug)."""
        row = bitmask[index] if bitmask.ndim == 2 else bitmask
        out = row.view(np.uint32)
        cg = self.compiled
        if self._finished:
            out[:] = 0
            for tok in cg.eos_token_ids:
                out[tok >> 5] |= np.uint32(1 << (tok & 31))
            return
        if self._general:
            mask = self._general.mask(self._state)
        else:
            mask = cg.state_mask(self._state.stack, self._state.q, self._state.acc)
        if mask is None:
            raise EmptyMaskError(
                f"no token is allowed after {self.text()!r} (matcher state {self.state!r}) "
                "although the grammar is not finished; please report this grammar"
            )
        np.copyto(out, mask)
        if self._unique is not None:
            self._unique.filter(self._track[0], self._state, out, self._bytes_at)

    def allowed_token_ids(self) -> np.ndarray:
        """The allowed token ids as an array (convenience; ``fill_bitmask`` is the fast path)."""
        mask = allocate_token_bitmask(1, self.compiled.logits_width)
        self.fill_bitmask(mask, 0)
        return bitmask_to_token_ids(mask[0], self.compiled.logits_width)

    def allowed_bytes(self) -> list[int]:
        """The bytes that may come next (not counting the end of the sequence)."""
        if self._finished:
            return []
        if self._general:
            return self._general.allowed_bytes(self._state)
        stack, q = self.state
        cg = self.compiled
        out = np.zeros(256, dtype=np.bool_)
        while True:
            n = kernels.allowed_bytes(stack, q, *cg.lexer_args, *cg.scratch().pools(), out)
            if n != kernels.OVERFLOW:
                return np.flatnonzero(out).tolist()
            cg.scratch().grow()

    def forced_bytes(self, limit: int = 256) -> bytes:
        """The bytes that are the only way on from here (jump-forward), up to ``limit``.

        Stops where two bytes are possible or where the string could end."""
        probe = self.fork()
        out = bytearray()
        while len(out) < limit and not probe.is_accepting():
            allowed = probe.allowed_bytes()
            if len(allowed) != 1 or not probe._push_bytes(bytes(allowed)):
                break  # (the byte may end a uniqueItems array's item as a duplicate)
            out.append(allowed[0])
        return bytes(out)

    def forced_tokens(self, limit: int = 256) -> list[int]:
        """Tokens that spell a prefix of :meth:`forced_bytes` (longest token first at each step)."""
        forced = self.forced_bytes(limit)
        cg = self.compiled
        tokens: list[int] = []
        pos = 0
        while pos < len(forced):
            best, best_len = -1, 0
            node, i = 0, pos
            trie = cg.trie
            while i < len(forced):
                child, end = node + 1, trie.subtree_end[node]
                while child < end and trie.node_byte[child] != forced[i]:
                    child = trie.subtree_end[child]
                if child >= end:
                    break
                node, i = child, i + 1
                if trie.token_start[node + 1] > trie.token_start[node]:
                    best, best_len = int(trie.token_ids[trie.token_start[node]]), i - pos
            if best < 0:
                break
            tokens.append(best)
            pos += best_len
        return tokens if self._unique is None else self._unmasked_prefix(tokens)

    def _unmasked_prefix(self, tokens: list[int]) -> list[int]:
        """The leading ``tokens`` that the masks allow in turn (the uniqueItems filter may drop a
        token the grammar alone forces: one after which an item can only end as a duplicate)."""
        probe, mask = self.fork(), allocate_token_bitmask(1, self.compiled.logits_width)
        for n, tok in enumerate(tokens):
            probe.fill_bitmask(mask, 0)
            if not (int(mask[0, tok >> 5]) >> (tok & 31)) & 1:
                return tokens[:n]
            probe.advance(tok)
        return tokens

    def text(self) -> str:
        """What the advanced tokens spell (UTF-8, invalid bytes replaced)."""
        return self.text_bytes().decode("utf-8", errors="replace")

    def text_bytes(self) -> bytes:
        """The bytes the advanced tokens spell."""
        parts = []
        state = self._state
        while state is not None:
            parts.append(state.data)
            state = state.parent
        return b"".join(reversed(parts))

    # -- moves -------------------------------------------------------------------------------
    def accepts_token(self, token_id: int) -> bool:
        """Whether ``token_id`` may come next."""
        try:
            self.fork().advance(token_id)
        except TokenRejectedError:
            return False
        return True

    def advance(self, token_id: int) -> None:
        """Consume one token; raises :class:`TokenRejectedError` if the grammar forbids it."""
        token_id = int(token_id)
        cg = self.compiled
        if self._finished:
            raise TokenRejectedError(f"token {token_id} after the end of the sequence")
        if token_id in cg.eos_token_ids:
            if not self.is_accepting():
                raise TokenRejectedError(
                    f"end-of-sequence token {token_id} after {self.text()!r}, which is not complete"
                )
            self._finished = True
            return
        data = cg.token_bytes(token_id)
        if not data:
            raise TokenRejectedError(f"token {token_id} has no text the grammar could accept")
        if not self._push_bytes(data):
            raise TokenRejectedError(
                f"token {token_id} ({data!r}) is not allowed after {self.text()!r}"
            )

    def advance_bytes(self, data: bytes) -> bool:
        """Consume raw bytes as one step (rollback undoes it as one token). False if not allowed."""
        if self._finished or not data:
            return False
        return self._push_bytes(data)

    # -- internals ---------------------------------------------------------------------------
    def _push_bytes(self, data: bytes) -> bool:
        if self._general:
            state = self._general.advance(self._state, data)
        else:
            state = self.compiled.step(self._state, data)
        if state is None:
            return False
        if self._unique is not None:
            track = self._unique.feed(self._track[0], data, self._state)
            if track is None:
                return False  # a uniqueItems array's item equal to an earlier one
            self._track = (track, self._track)
        self._state = state
        return True

    def _bytes_at(self, state: MatchState) -> list[int]:
        """The bytes the grammar allows after matcher state ``state`` (for the uniqueItems filter)."""
        probe = self.fork()
        probe._unique, probe._state = None, state
        return probe.allowed_bytes()


def text_matches(grammar, text: str | bytes) -> bool:
    """Whether ``text`` is in ``grammar``'s language as the engine reads it: greedy, longest-match
    lexing, the reading that constrained generation follows. (lark's own ``grammar.parser`` takes
    the first alternative of a terminal's regex that matches, which can differ.)

    Example:
        >>> from grammars import Grammar
        >>> g = Grammar.from_lark('start: NUM\\nNUM: /[0-9]|[0-9][0-9]/')
        >>> text_matches(g, "59"), text_matches(g, "599")
        (True, False)
    """
    from .compiler import compile_grammar
    from .vocabulary import byte_vocabulary

    matcher = GrammarMatcher(compile_grammar(grammar, byte_vocabulary()))
    data = text.encode("utf-8") if isinstance(text, str) else text
    return (not data or matcher.advance_bytes(data)) and matcher.is_accepting()
