"""LALR(1) tables from lark's rules, without lark's analysis: the same table, about 10x faster.

lark's ``LALR_Analyzer`` works on Python objects (rule pointers hashed and compared by
``__eq__``, FIRST/FOLLOW sets the LALR tables never read). This module builds the same table on
integers: items are ``rule start + dot``, LR(0) kernels frozensets of them, lookahead sets
bitsets (Python ints) over the terminals, DeRemer and Pennello's relations as lark computes them
(reads, includes, lookback), closed by one strongly-connected-components pass each.

It reproduces lark's table exactly, lark's own choices included: a reduce/reduce collision is
settled by a strictly higher rule priority; ``includes`` also walks the items of the nonterminal
that a state's kernel holds past their first symbol (a superset of textbook LALR(1) lookaheads,
which lark's table has and so this one has). States are numbered breadth-first from the start
state, symbols in name order, so the numbering is the same in every process.

Only a grammar without conflicts gets a table here (:func:`lalr_table` returns None otherwise);
:func:`lalr_analysis` names the conflicts of one that has some, as lark's log and errors name
them, with every action of lark's analysis (what the general path runs); where neither can
answer (an error lark reports, lookaheads lark aliases) the caller runs lark's analysis.

    >>> from lark.load_grammar import load_grammar
    >>> terminals, rules, _ = load_grammar('start: "a" start | "b"', "<doc>", [], False)[0].compile(["start"], set())
    >>> states, start_state = lalr_table(rules, "start")
    >>> sorted(map(str, states[start_state])), states[states[start_state]["start"][0][1]]
    (['A', 'B', 'start'], {'$END': [('accept', None)]})
"""

from __future__ import annotations

import re

_SHIFT, _REDUCE, _ACCEPT = "shift", "reduce", "accept"


def lalr_table(rules: list, start: str):
    """lark's LALR(1) table of ``rules`` (lark ``Rule`` objects) for the start rule ``start``, as
    ``({state: {symbol name: [(kind, arg)]}}, start state)``: ``("shift", state)`` for terminals
    and nonterminals (the goto), ``("reduce", rule)``, and ``("accept", None)`` first on
    ``$END`` in the state after the start rule. None when the grammar has a shift/reduce or
    reduce/reduce conflict, a rule twice, a symbol used as terminal and rule, or an undefined
    rule (lark's analysis reports those)."""
    return _Analysis(rules, start).table()


def lalr_analysis(rules: list, start: str):
    """:func:`lalr_table`'s table, or for a grammar with LALR(1) conflicts (from the same
    analysis) ``(messages, (states, start state))``: the conflicts as lark's log and errors
    describe them (``shift/reduce on PLUS (rule e)``, ``reduce/reduce on B``; a reduce/reduce
    collision that a strictly higher rule priority settles is none) and every shift, reduce and
    accept action in the form of :func:`lalr_table` (a shift before the reduces on one symbol,
    reduces in the order of their rules' text). Returns ``(table, None)``, ``(None, (messages,
    actions))``, or ``(None, None)`` when this analysis cannot tell (see :func:`lalr_table`)."""
    analysis = _Analysis(rules, start)
    if not analysis._numbered():
        return None, None
    analysis._lr0()
    if not analysis._lookaheads():
        return None, None
    table = analysis._actions()
    return (table, None) if table is not None else (None, analysis._conflicts())


class _Analysis:
    def __init__(self, rules: list, start: str):
        self.rules = rules
        self.start = start

    def table(self):
        if not self._numbered():
            return None
        self._lr0()
        return self._actions() if self._lookaheads() else None

    def _numbered(self) -> bool:
        """Symbols, rules and items as integers; False for what lark's analysis must report."""
        terms: dict[str, int] = {"$END": 0}
        nts: dict[str, int] = {}
        for r in self.rules:
            nts.setdefault(r.origin.name, len(nts))
        if self.start not in nts:
            return False
        for r in self.rules:
            for s in r.expansion:
                if s.is_term:
                    terms.setdefault(s.name, len(terms))
                elif s.name not in nts:
                    return False
        if any(name in nts for name in terms):
            return False
        n_t = len(terms)
        self.term_names = list(terms)
        self.nt_names = list(nts)
        root = len(self.rules)  # $root_start: start
        nt_code = {name: n_t + i for i, name in enumerate(nts)}
        lhs, rhs = [], []
        for r in self.rules:
            lhs.append(nt_code[r.origin.name])
            rhs.append(tuple(terms[s.name] if s.is_term else nt_code[s.name] for s in r.expansion))
        if len(set(zip(lhs, rhs))) != len(lhs):
            return False
        lhs.append(-1)
        rhs.append((nt_code[self.start],))
        self.n_t, self.lhs, self.rhs, self.root = n_t, lhs, rhs, root
        base, item_rule, item_next = [], [], []
        for r, expansion in enumerate(rhs):
            base.append(len(item_rule))
            item_rule += [r] * (len(expansion) + 1)
            item_next += list(expansion) + [-1]
        self.base, self.item_rule, self.item_next = base, item_rule, item_next
        by_lhs: list[list[int]] = [[] for _ in nts]
        for r in range(root):
            by_lhs[lhs[r] - n_t].append(r)
        self.by_lhs = by_lhs
        nullable = [False] * len(nts)
        waiting = [0] * root  # per rule: how many of its symbols are not known to be nullable
        uses: list[list[int]] = [[] for _ in nts]
        work = []
        for r in range(root):
            waiting[r] = len(rhs[r])
            for s in rhs[r]:
                if s >= n_t:
                    uses[s - n_t].append(r)
            if not rhs[r]:
                work.append(lhs[r] - n_t)
        while work:
            a = work.pop()
            if nullable[a]:
                continue
            nullable[a] = True
            for r in uses[a]:
                waiting[r] -= 1
                if waiting[r] == 0:
                    work.append(lhs[r] - n_t)
        tail = []  # per rule: where its suffix of nullable symbols begins
        for expansion in rhs:
            k = len(expansion)
            while k and expansion[k - 1] >= n_t and nullable[expansion[k - 1] - n_t]:
                k -= 1
            tail.append(k)
        self.tail = tail
        self.nullable = nullable
        self._expand: dict[int, frozenset] = {}
        return True

    def _expansion(self, nt: int) -> frozenset:
        """The initial items of every rule a leftmost derivation from ``nt`` reaches."""
        got = self._expand.get(nt)
        if got is None:
            n_t, rhs, base = self.n_t, self.rhs, self.base
            seen, work, items = {nt}, [nt], []
            while work:
                for r in self.by_lhs[work.pop() - n_t]:
                    items.append(base[r])
                    if rhs[r] and rhs[r][0] >= n_t and rhs[r][0] not in seen:
                        seen.add(rhs[r][0])
                        work.append(rhs[r][0])
            got = self._expand[nt] = frozenset(items)
        return got

    def _lr0(self) -> None:
        """LR(0) states by kernel, breadth-first; ``goto[state][symbol]``."""
        n_t, item_next = self.n_t, self.item_next
        start_kernel = frozenset((self.base[self.root],))
        number = {start_kernel: 0}
        kernels, closures, goto = [start_kernel], [], []
        names = self.term_names + self.nt_names
        for kernel in kernels:
            closure = set(kernel)
            for item in kernel:
                s = item_next[item]
                if s >= n_t:
                    closure |= self._expansion(s)
            by_sym: dict[int, list[int]] = {}
            for item in closure:
                s = item_next[item]
                if s >= 0:
                    by_sym.setdefault(s, []).append(item + 1)
            moves = {}
            for s in sorted(by_sym, key=names.__getitem__):
                k = frozenset(by_sym[s])
                target = number.get(k)
                if target is None:
                    target = number[k] = len(kernels)
                    kernels.append(k)
                moves[s] = target
            closures.append(closure)
            goto.append(moves)
        self.kernels, self.closures, self.goto = kernels, closures, goto

    def _lookaheads(self) -> bool:
        """DeRemer and Pennello over the nonterminal transitions, as lark relates them."""
        n_t, nullable, goto, rhs, lhs = self.n_t, self.nullable, self.goto, self.rhs, self.lhs
        item_rule, base, tail = self.item_rule, self.base, self.tail
        trans: dict[tuple[int, int], int] = {}
        for p, moves in enumerate(goto):
            for s in moves:
                if s >= n_t:
                    trans[(p, s)] = len(trans)
        direct = [0] * len(trans)
        reads: list[list[int]] = [[] for _ in trans]
        for (p, a), x in trans.items():
            q = goto[p][a]
            bits = 0
            for s in goto[q]:
                if s < n_t:
                    bits |= 1 << s
                elif nullable[s - n_t]:
                    reads[x].append(trans[(q, s)])
            direct[x] = bits
        direct[trans[(0, rhs[self.root][0])]] |= 1  # $END after the start rule
        includes: list[list[int]] = [[] for _ in trans]
        lookback: list[list[tuple[int, int]]] = [[] for _ in trans]
        kernel_by_lhs: list[dict[int, list[int]]] = []
        for kernel in self.kernels:
            got: dict[int, list[int]] = {}
            for item in kernel:
                got.setdefault(lhs[item_rule[item]], []).append(item)
            kernel_by_lhs.append(got)
        for (p, a), x in trans.items():
            # lark walks every item of ``a`` in the state, those its kernel holds past their start too
            for item in [base[r] for r in self.by_lhs[a - n_t]] + kernel_by_lhs[p].get(a, []):
                r = item_rule[item]
                dot = item - base[r]
                expansion = rhs[r]
                last = tail[r] - 1
                state = p
                for i in range(dot, len(expansion)):
                    s = expansion[i]
                    if i >= last and s >= n_t:
                        includes[trans[(state, s)]].append(x)
                    state = goto[state][s]
                if dot == 0:
                    lookback[x].append((state, r))
        read, cyclic = _closed(reads, direct)
        if cyclic:  # lark's sets alias within a cycle of reads: its lookaheads are its own
            return False
        follow, _ = _closed(includes, read)
        la: list[dict[int, int]] = [{} for _ in goto]
        for x, pairs in enumerate(lookback):
            for state, r in pairs:
                la[state][r] = la[state].get(r, 0) | follow[x]
        self.la = la
        return True

    def _actions(self):
        names = self.term_names + self.nt_names
        root_item = self.base[self.root] + 1
        states = {}
        for p, moves in enumerate(self.goto):
            acts = {names[s]: [(_SHIFT, q)] for s, q in moves.items()}
            by_term = self._reduces(p)
            for t, rs in by_term.items():
                if len(rs) > 1:
                    ranked = sorted(((self.rules[r].options.priority or 0) for r in rs), reverse=True)
                    if ranked[0] == ranked[1]:
                        return None  # reduce/reduce
                    rs = [max(rs, key=lambda r: self.rules[r].options.priority or 0)]
                if names[t] in acts:
                    return None  # shift/reduce
                acts[names[t]] = [(_REDUCE, self.rules[rs[0]])]
            if root_item in self.kernels[p]:
                acts.setdefault("$END", []).insert(0, (_ACCEPT, None))
            states[p] = acts
        return states, 0


    def _reduces(self, p: int) -> dict[int, list[int]]:
        """State p's reduces by lookahead terminal: terminal -> rules."""
        by_term: dict[int, list[int]] = {}
        for r, bits in self.la[p].items():
            while bits:
                low = bits & -bits
                by_term.setdefault(low.bit_length() - 1, []).append(r)
                bits ^= low
        return by_term

    def _conflicts(self):
        names = self.term_names + self.nt_names
        root_item = self.base[self.root] + 1
        messages: list[str] = []
        collisions: list[str] = []  # reduce/reduce: lark raises them after logging the others
        states = {}
        for p, moves in enumerate(self.goto):
            acts = {names[s]: [(_SHIFT, q)] for s, q in moves.items()}
            by_term = self._reduces(p)
            for t, rs in sorted(by_term.items()):
                ranked = sorted(((self.rules[r].options.priority or 0) for r in rs), reverse=True)
                if len(rs) > 1 and ranked[0] == ranked[1]:
                    collisions.append(f"reduce/reduce on {names[t]}")
                elif t in moves:
                    best = max(rs, key=lambda r: self.rules[r].options.priority or 0)
                    rule = re.match(r"\w+", self.rules[best].origin.name)
                    messages.append(f"shift/reduce on {names[t]}" + (f" (rule {rule[0]})" if rule else ""))
                rules = sorted((self.rules[r] for r in rs), key=str)
                acts.setdefault(names[t], []).extend((_REDUCE, rule) for rule in rules)
            if root_item in self.kernels[p]:
                acts.setdefault("$END", []).insert(0, (_ACCEPT, None))
            states[p] = acts
        return messages + collisions, (states, 0)


def _closed(relation: list[list[int]], sets: list[int]) -> tuple[list[int], bool]:
    """``F(x) = sets[x] | F(y) for every y that x relates to`` (DeRemer and Pennello's digraph:
    one Tarjan pass, each strongly connected component sharing one set; lark's ``traverse``
    without recursion), and whether some component has more than one member."""
    out = list(sets)
    depth = [0] * len(sets)
    stack: list[int] = []
    cyclic = False
    for root in range(len(sets)):
        if depth[root]:
            continue
        stack.append(root)
        depth[root] = len(stack)
        work = [[root, 0, len(stack)]]
        while work:
            frame = work[-1]
            x, i, d = frame
            rel = relation[x]
            if i < len(rel):
                y = rel[i]
                if depth[y] == 0:
                    stack.append(y)
                    depth[y] = len(stack)
                    work.append([y, 0, len(stack)])
                    continue
                if 0 < depth[y] < depth[x]:
                    depth[x] = depth[y]
                out[x] |= out[y]
                frame[1] = i + 1
                continue
            work.pop()
            if depth[x] == d:
                cyclic = cyclic or stack[-1] != x
                while True:
                    z = stack.pop()
                    depth[z] = -1
                    out[z] = out[x]
                    if z == x:
                        break
    return out, cyclic
