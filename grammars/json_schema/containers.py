"""Rules for objects and arrays: a finite automaton over members (declared keys in order, then
additional keys by matched patterns) or items (prefix, counted ``contains``), written as rules.
"""

from __future__ import annotations

import math
import re

import numpy as np

from ..errors import UnsupportedRegexError
from ..regex import regex_byte_dfa
from .errors import UnsupportedSchemaError, _Never
from .jsonvalues import _canon, _finite, _json_equal, _ptr
from ..unique_items import UNIQUE_OPEN
from .keywords import ANNOTATIONS, MAX_KEY_CLASSES, MAX_REPEAT, MAX_UNIQUE_WORK, _both, _quote_safe

MAX_BLOCKS = 128  # repeat_rule: about this many blocks of this many items at most (lark's analysis time)
from .patterns import CH, enc_str


class Containers:
    """Methods of the translator (mixed into :class:`~grammars.json_schema.translate.Translator`)."""

    tracked = False  # whether the grammar is for this engine's matcher (uniqueItems checked beside it)

    def obj(self, schema, path) -> str:
        props = dict(schema.get("properties", {}))
        required = list(dict.fromkeys(schema.get("required", [])))
        addl = schema.get("additionalProperties", False if self.strict else True)
        lo = int(schema.get("minProperties", 0))
        hi = None if schema.get("maxProperties") is None else int(schema["maxProperties"])
        # negated additionalProperties: for each name set, at least one key outside it
        outside = [frozenset(x) for x in dict.fromkeys(tuple(x) for x in schema.get("$keysOutside", []))]
        # negated additionalProperties/patternProperties: a member of a key class whose value fails
        some = self.some_member(schema, path)
        wbit = (1 << len(outside)) if some else 0  # the bit of `met` set once such a member came
        full = ((1 << len(outside)) - 1) | wbit
        names = self.property_names(schema, props, path)  # (checks, body) on key contents
        patterns = self.pattern_properties(schema, path)  # [(checks, content regex, schema)]
        pkeys = list(schema.get("patternProperties", {}))
        missing = [r for r in required if r not in props]
        for r in missing:
            props[r] = None  # not declared: the pattern schemas or additionalProperties below

        def name_hits(name: str) -> tuple[bool, ...]:
            spelled = _canon(name)[1:-1]
            return tuple(bool(re.fullmatch(r, spelled)) and all(bool(re.fullmatch(c, spelled)) != neg
                                                                for neg, c in pchecks) for pchecks, r, _ in patterns)

        def in_class(name: str | None, hit: tuple[bool, ...]) -> bool:
            """Whether a key (declared ``name``, or None for an additional key) matching the
            patterns ``hit`` marks is one that ``some`` looks for."""
            if "matching" in some:
                return hit[pkeys.index(some["matching"])]
            names_out, pats_out = some["outside"]
            return name not in names_out and not any(h for h, k in zip(hit, pkeys) if k in pats_out)

        def with_witness(target, name: str | None, hit: tuple[bool, ...], where: str) -> list:
            """[(value symbol, bits of met it sets)] of a member whose values must meet ``target``."""
            if not some or not in_class(name, hit):
                return [(self.value(target, where), 0)]
            out = []
            for extra, bits in ((some["other"], 0), (some["witness"], wbit)):
                try:
                    out.append((self.value(_both(target, extra), where), bits))
                except _Never:
                    pass
            if not out:
                raise _Never()
            return out

        def value_schema(name: str):
            """What the value of a key must satisfy: its own schema, the schemas of the patterns
            it matches, additionalProperties if neither."""
            hits = [sub for (_, _, sub), h in zip(patterns, name_hits(name)) if h]
            own = props[name]
            if own is None and not hits:
                return addl
            parts = ([own] if own is not None else []) + hits
            return parts[0] if len(parts) == 1 else {"allOf": parts}

        members = []  # (key terminal, [(value symbol, bits of met)], required, bits of met)
        for name in props:
            try:
                sym = with_witness(value_schema(name), name, name_hits(name), _ptr(path, "properties", name))
            except _Never:
                if name in required:
                    raise
                continue
            meets = sum(1 << j for j, names_j in enumerate(outside) if name not in names_j)
            members.append((self.term(self.ws + re.escape(_canon(name)) + ":", _ptr(path, "properties", name)), sym,
                            name in required, meets))
        # additional keys: one key class per set of patterns matched (lookaheads keep them disjoint)
        checks, body = names if names is not None else ([], None)
        if props:
            checks = checks + [(True, "|".join(enc_str(n) for n in props))]
        extras = {0: [], wbit: []}  # by the bits of met they set
        for hit in self.key_classes(checks, patterns, body, path) if body is not None else ():
            subs = [sub for (_, _, sub), h in zip(patterns, hit) if h]
            target = addl if not subs else (subs[0] if len(subs) == 1 else {"allOf": subs})
            if target is False:
                continue
            if any(not h and not pchecks and self.every_key_matches(r) for (pchecks, r, _), h in zip(patterns, hit)):
                continue  # no key is outside this pattern (".*"): the class would match nothing
            try:
                vsyms = with_witness(target, None, hit, _ptr(path, "additionalProperties" if not subs
                                                             else "patternProperties"))
            except _Never:
                continue
            for key_checks in self.key_class_checks(checks, patterns, hit):
                key = self.render(self.guarded(key_checks, f'"{body}":', ":"))
                if patterns and self.matches_nothing(key):
                    continue  # e.g. a key both starting with "a" and with "-", or both "^a$" and "^b$"
                for vsym, bits in vsyms:
                    extras[bits].append(f"{self.term(key, _ptr(path, 'propertyNames'))} {vsym}")
        extra = {bits: alts[0] if len(alts) == 1 else "(" + " | ".join(alts) + ")"
                 for bits, alts in extras.items() if alts}
        if hi is not None and len([m for m in members if m[2]]) > hi:
            raise _Never()
        n, cap = len(members), max(lo, 1 if hi is None else hi + 1, 1)
        comma, opn, cls = self.punct(","), self.punct("{"), self.punct("}")

        def step(state):
            """(accepting, [(text, next state)]) of the automaton over members then extras."""
            i, c, met = state
            sep = f"{comma} " if c else ""
            room = hi is None or c < hi
            if i < n:
                key, syms, req, meets = members[i]
                moves = [(f"{sep}{key} {sym}", (i + 1, min(c + 1, cap), met | meets | bits))
                         for sym, bits in syms] if room else []
                if not req:
                    moves.append(("", (i + 1, c, met)))
                return False, moves
            ok = c >= lo and met == full
            outside_full = full & ~wbit  # an additional key is outside every name set
            moves = [(f"{sep}{alts}", (n, min(c + 1, cap), met | outside_full | bits))
                     for bits, alts in extra.items()] if room else []
            return ok, moves

        return self.automaton_rule("obj", (opn, cls), (0, 0, 0), step)

    @staticmethod
    def some_member(schema: dict, path: str) -> dict | None:
        """The one ``$someMember`` of an object schema (a member whose key is in a class and whose
        value meets ``witness``, not ``other``; see :meth:`~Negation.negate_constraint`)."""
        some = schema.get("$someMember", [])
        if len(some) > 1:
            raise UnsupportedSchemaError("negating additionalProperties or patternProperties more than once in one "
                                         "object (through not, if, oneOf or overlapping anyOf) is not supported",
                                         "not", path)
        return some[0] if some else None

    def every_key_matches(self, regex: str) -> bool:
        """Whether the content regex ``regex`` matches every JSON string content (``CH*``): a walk
        over the product of the two byte DFAs; False when a DFA cannot be built here."""
        try:
            keys, pat = regex_byte_dfa(f"{CH}*"), regex_byte_dfa(regex)
        except UnsupportedRegexError:
            return False
        kt, ka, pt, pa = keys.transitions, keys.accepting, pat.transitions, pat.accepting
        seen, todo = {(0, 0)}, [(0, 0)]
        while todo:
            k, p = todo.pop()
            if ka[k] and (p < 0 or not pa[p]):
                return False
            for b in np.flatnonzero(kt[k] >= 0).tolist():
                nxt = (int(kt[k, b]), int(pt[p, b]) if p >= 0 else -1)
                if nxt not in seen:
                    if len(seen) > 100_000:
                        return False
                    seen.add(nxt)
                    todo.append(nxt)
        return True

    def automaton_rule(self, prefix: str, brackets: tuple[str, str], start, step) -> str:
        """Rules for a bracketed sequence accepted by a finite automaton (``step(state)`` gives
        ``(accepting, [(text, next)])``; text ``""`` is an empty move); raises _Never if no path
        accepts."""
        name = self.new_rule(prefix)
        graph, order, todo = {}, [], [start]
        while todo:
            st = todo.pop()
            if st in graph:
                continue
            self.spend("#")
            graph[st] = step(st)
            order.append(st)
            todo += [nxt for _, nxt in graph[st][1]]
        live = {st for st in graph if graph[st][0]}
        changed = True
        while changed:
            changed = False
            for st, (_, moves) in graph.items():
                if st not in live and any(nxt in live for _, nxt in moves):
                    live.add(st)
                    changed = True
        if start not in live:
            raise _Never()
        names = {st: f"{name}_{j}" for j, st in enumerate(order)}
        # a state whose only way on is the empty end is written as nothing
        empty = {st for st in live if graph[st][0] and not any(nxt in live for _, nxt in graph[st][1])}

        def sym(st) -> str:
            return "" if st in empty else names[st]

        for st in order:
            if st not in live or st in empty:
                continue
            accepting, moves = graph[st]
            alts = [f"{text} {sym(nxt)}".strip() for text, nxt in moves if nxt in live]
            alts = [a for a in dict.fromkeys(alts) if a]
            body = " | ".join(alts)
            if accepting or any(not text and nxt in empty for text, nxt in moves if nxt in live):
                body = f"({body})?"
            self.rules.append(f"{names[st]}: {body}")
        self.rules.append(f"{name}: {brackets[0]} {sym(start)} {brackets[1]}")
        return name

    def property_names(self, schema, props, path) -> tuple[list, str]:
        """``propertyNames`` as (lookahead checks, body) on key contents, None when no name is
        allowed; declared properties whose names it rejects become absent (``False``)."""
        if "propertyNames" not in schema:
            return [], f"{CH}*"
        import jsonschema
        pn = schema["propertyNames"]
        validator = jsonschema.Draft202012Validator(self.root).evolve(schema=pn)
        for p in list(props):
            if not validator.is_valid(p):
                props[p] = False
        try:
            flat = self.flatten(pn, _ptr(path, "propertyNames"))
        except _Never:
            return None
        flat = {k: v for k, v in flat.items() if k not in ANNOTATIONS}
        if "anyOf" in flat:  # e.g. from `not`: branches per JSON type, of which keys meet the string ones
            flat = self.string_branch(flat, _ptr(path, "propertyNames"))
            if flat is None:
                return None
        t = flat.pop("type", "string")
        if "string" not in ([t] if isinstance(t, str) else t):
            return None
        if "enum" in flat or "const" in flat:
            vals = list(flat["enum"]) if "enum" in flat else [flat["const"]]
            vals = [v for v in vals if isinstance(v, str) and validator.is_valid(v)]
            return ([], "(?:" + "|".join(enc_str(v) for v in vals) + ")") if vals else None
        string_keys = {"minLength", "maxLength", "pattern", "format", "$notIn", "$notMatching", "$alsoPattern"}
        if set(flat) - string_keys:
            k = sorted(set(flat) - string_keys)[0]
            raise UnsupportedSchemaError(f"`{k}` in propertyNames is not supported", "propertyNames",
                                         _ptr(path, "propertyNames", k))
        return self.string_parts(flat, _ptr(path, "propertyNames"))

    def string_branch(self, flat: dict, path: str) -> dict | None:
        """The one branch of ``flat``'s ``anyOf`` (merged with the rest of ``flat``) that strings can
        meet, for a schema only strings are checked against (``propertyNames``); None if none can;
        refused when several can."""
        rest = {k: v for k, v in flat.items() if k != "anyOf"}
        strings = []
        for i, sub in enumerate(flat["anyOf"]):
            try:
                branch = self.merge(rest, self.flatten(sub, _ptr(path, "anyOf", i)), _ptr(path, "anyOf", i))
            except _Never:
                continue
            t = branch.get("type", "string")
            if "string" in ([t] if isinstance(t, str) else t):
                strings.append({**branch, "type": "string"})
        if len(strings) > 1 or any(k in s for s in strings for k in ("anyOf", "oneOf")):
            raise UnsupportedSchemaError("`anyOf` in propertyNames with several branches that strings meet is "
                                         "not supported", "propertyNames", path)
        return strings[0] if strings else None

    @staticmethod
    def key_class_checks(checks: list, patterns: list, hit: tuple) -> list[list]:
        """The lookahead checks of the keys that match the patterns ``hit`` marks and no other, as
        disjoint conjunctions: a pattern with its own checks ``c`` (leading lookaheads) and body
        ``b`` is missed by ``not b``, or ``b`` and the first of ``c`` failing (each after the
        earlier ones hold)."""
        options = [list(checks)]
        for (pchecks, r, _), h in zip(patterns, hit):
            if h:
                ways = [pchecks + [(False, r)]]
            else:
                ways = [[(True, r)]] + [[(False, r)] + pchecks[:i] + [(not neg, c)] for i, (neg, c) in enumerate(pchecks)]
            options = [o + w for o in options for w in ways]
        return options

    def key_classes(self, checks: list, patterns: list, body: str, path: str) -> list[tuple[bool, ...]]:
        """Which ``patterns`` a key matches, for every combination some key (meeting ``checks`` and
        ``body``) can have: a walk over the patterns that drops a combination as soon as no key
        matches all the patterns it marks (n disjoint patterns: n + 1 classes, not 2**n)."""
        done, todo = [], [()]
        while todo:
            hit = todo.pop()
            if len(hit) == len(patterns):
                done.append(hit)
                continue
            todo.append(hit + (False,))
            met = hit + (True,)
            keys = [self.render(self.guarded(c, f'"{body}":', ":"))
                    for c in self.key_class_checks(checks, patterns[:len(met)], met)]
            if not all(self.matches_nothing(k) for k in keys):
                todo.append(met)
            if len(done) + len(todo) > MAX_KEY_CLASSES:
                raise UnsupportedSchemaError(f"more than {MAX_KEY_CLASSES} sets of patternProperties that keys "
                                             "match together (each is one key class)", "patternProperties",
                                             _ptr(path, "patternProperties"))
        return sorted(done)

    def pattern_properties(self, schema, path) -> list:
        """``patternProperties`` as [(checks, regex over key contents, schema)] (checks: the
        pattern's leading lookaheads, ``(negated, regex)``, see :func:`pattern_parts`)."""
        pp = schema.get("patternProperties", {})
        return [(*self.pattern_parts(k, _ptr(path, "patternProperties", k)), v) for k, v in pp.items()]

    def array(self, schema, path) -> str:
        unique = bool(schema.get("uniqueItems")) and not self.unique_vacuous(schema, path)
        if unique:
            values, work = self.unique_domain(schema, path)
            if values is not None and work <= MAX_UNIQUE_WORK:
                return self.unique_array(values, schema)
            if not self.tracked:
                self.unsupported("uniqueItems", path, "uniqueItems over values a grammar cannot keep apart (free "
                                 "strings, numbers, objects...) is checked by this engine's matcher beside the "
                                 "grammar (Grammar.from_json_schema); Lark text alone cannot express it")
                unique = False
        if "unevaluatedItems" in schema:
            self.unsupported("unevaluatedItems", path, "unevaluatedItems beside contains is not supported")
        prefix = list(schema.get("prefixItems", []))
        items = schema.get("items", True)
        lo = int(schema.get("minItems", 0))
        hi = None if schema.get("maxItems") is None else int(schema["maxItems"])
        contains = schema.get("contains")
        cfrom = int(schema.get("$containsFrom", 0))
        cmin = int(schema.get("minContains", 1)) if contains is not None else 0
        cmax = schema.get("maxContains") if contains is not None else None
        cmax = None if cmax is None else int(cmax)
        neg = None if contains is None else self.negate(contains, _ptr(path, "contains"))

        def split(i: int, sub, where: str):
            """(symbol of the items that count for contains, of those that do not); None: none."""
            def sym(s):
                try:
                    return self.value(s, where)
                except _Never:
                    return None
            if contains is None or i < cfrom:
                return None, sym(sub)
            return sym({"allOf": [sub, contains]}), sym({"allOf": [sub, neg]})

        slots = [split(i, sub, _ptr(path, "prefixItems", i)) for i, sub in enumerate(prefix)]
        k = len(slots)
        tail_slot = split(max(k, cfrom), items, _ptr(path, "items"))
        if hi is not None and tail_slot[1] is None and contains is None:
            hi = min(hi, k)  # no item may follow the prefix
        # past MAX_REPEAT items, a plain tail (no contains) is counted by blocks (see repeat_rule)
        m = max(k, lo, 1)
        big = hi is not None and hi > MAX_REPEAT and contains is None and m <= MAX_REPEAT
        if lo > MAX_REPEAT or max(k, cfrom) > MAX_REPEAT or (hi is not None and hi > MAX_REPEAT and not big):
            kw = "minItems" if lo > MAX_REPEAT else "maxItems"
            what = "beside contains" if kw == "maxItems" and lo <= MAX_REPEAT and k <= MAX_REPEAT else ""
            raise UnsupportedSchemaError(f"{kw} {what + ' ' if what else ''}above the bound {MAX_REPEAT}", kw,
                                         _ptr(path, kw))
        pcap = m if big else max(k, lo, cfrom, 1) if hi is None else hi
        ccap = (cmax + 1 if cmax is not None else cmin) if contains is not None else 0
        comma, opn, cls = self.punct(","), self.unique_open(path) if unique else self.punct("["), self.punct("]")
        tail = self.repeat_rule(f"{comma} {tail_slot[1]}", hi - m, _ptr(path, "maxItems")) if big else None

        def step(state):
            i, c = state
            if big and i >= m:  # m items so far: the tail of up to hi - m more, then the end
                return (True, []) if i > m else (False, [(tail, (m + 1, 0))])
            ok = i >= lo and c >= cmin and (cmax is None or c <= cmax)
            if (hi is not None and i >= hi) or (cmax is not None and c > cmax):
                return ok, []
            yes, no = slots[i] if i < k else (tail_slot if i >= cfrom else split(i, items, _ptr(path, "items")))
            sep = f"{comma} " if i else ""
            nxt = min(i + 1, pcap)
            moves = []
            if yes is not None:
                moves.append((f"{sep}{yes}", (nxt, min(c + 1, ccap))))
            if no is not None:
                moves.append((f"{sep}{no}", (nxt, c)))
            return ok, moves

        return self.automaton_rule("arr", (opn, cls), (0, 0), step)

    def repeat_rule(self, unit: str, n: int, path: str) -> str:
        """A rule for 0 to ``n`` copies of ``unit`` (grammar text), in O(sqrt(n)) rules: ``o_j: blk
        o_(j+1) | p_(B-1)`` where ``blk`` is ``B`` units in one rule and ``p_t`` up to ``t`` units, so
        the LR states stay few and lark's analysis never recurses along a chain of ``n`` rules."""
        if n > MAX_BLOCKS ** 2:
            raise UnsupportedSchemaError(f"{n} items past the first ones is above the bound {MAX_BLOCKS ** 2}",
                                         "maxItems", path)
        b = max(2, math.isqrt(n))
        q, r = divmod(n, b)
        name = self.new_rule("rep")
        rules, rest = [], f" {name}_p{r}" if r else ""  # what may follow the q-th block
        for j in range(q - 1, -1, -1):
            rules.append(f"{name}_o{j}: {name}_b{rest} | {name}_p{b - 1}")
            rest = f" {name}_o{j}"
        # written outer rules first, each before the one it ends with: lark's FIRST/FOLLOW fixed
        # point then runs down each chain in one pass instead of one pass per rule
        self.rules += rules[::-1] + [f"{name}_p{t}: ({unit}{f' {name}_p{t - 1}' if t > 1 else ''})?"
                                     for t in range(b - 1, 0, -1)] + [f"{name}_b: " + " ".join([unit] * b)]
        return f"{name}_o0"

    def unique_open(self, path: str) -> str:
        """The opening bracket of a ``uniqueItems`` array over values a grammar cannot keep apart
        (free strings, numbers, objects...): the terminal ``UNIQUE_OPEN``, the same text as ``[``.
        The grammar is the array language without uniqueness; the matcher's
        :class:`~grammars.unique_items.UniqueItems` tracker refuses a duplicate item as it ends."""
        regex = _quote_safe(self.ws + "[\\[]")
        self.terminals.setdefault(regex, UNIQUE_OPEN)
        return self.term(regex, path)

    def unique_vacuous(self, schema, path) -> bool:
        """Whether no two items of the array can be equal, so ``uniqueItems`` says nothing: at most
        one item, or only ``prefixItems`` whose schemas are pairwise provably apart."""
        hi = schema.get("maxItems")
        if hi is not None and hi <= 1:
            return True
        prefix = list(schema.get("prefixItems", []))
        if len(prefix) < 2:
            return False
        if hi is None or hi > len(prefix):
            try:
                self.flatten(schema.get("items", True), _ptr(path, "items"))
                return False  # items may follow the prefix
            except _Never:
                pass
        flat = []
        for i, sub in enumerate(prefix[:hi]):
            try:
                flat.append(self.flatten(sub, _ptr(path, "prefixItems", i)))
            except _Never:
                break  # no item here, so none after it
        return all(self.apart(a, b, path) for i, a in enumerate(flat) for b in flat[i + 1:])

    def unique_domain(self, schema, path) -> tuple[list | None, int]:
        """The distinct values an item of a ``uniqueItems`` array may take, when they are listed
        (``enum``/``const``/``boolean``/``null`` items), and the moves of the automaton over the
        sets of values used (:meth:`unique_array`): (None, 0) otherwise."""
        if schema.get("prefixItems") or "contains" in schema:
            return None, 0
        try:
            items = self.flatten(schema.get("items", True), _ptr(path, "items"))
        except _Never:
            return [], 0
        items = {k: v for k, v in items.items() if k not in ANNOTATIONS}
        if "enum" in items or "const" in items:
            values = self.listed_values(items)
        elif items in ({"type": "boolean"}, {"type": "null"}, {"type": ["boolean", "null"]}, {"type": ["null", "boolean"]}):
            t = items["type"]
            values = ([True, False] if "boolean" in t else []) + ([None] if "null" in t else [])
        else:
            return None, 0
        distinct = []
        for v in values:
            if _finite(v) and not any(_json_equal(v, d) for d in distinct):
                distinct.append(v)
        n = len(distinct)
        hi = n if schema.get("maxItems") is None else min(int(schema["maxItems"]), n)
        return distinct, n * sum(math.comb(n, i) for i in range(hi + 1))  # sets of up to hi values, n moves each

    def unique_array(self, values: list, schema) -> str:
        """Arrays of distinct ``values``: an automaton over the set of values used so far."""
        lo = int(schema.get("minItems", 0))
        hi = len(values) if schema.get("maxItems") is None else min(int(schema["maxItems"]), len(values))
        symbols = [self.value({"const": v}, "#") for v in values]
        comma, opn, cls = self.punct(","), self.punct("["), self.punct("]")

        def step(used: int):
            count = bin(used).count("1")
            moves = [(f"{comma + ' ' if used else ''}{sym}", used | (1 << i)) for i, sym in enumerate(symbols)
                     if not used & (1 << i) and count < hi]
            return count >= lo, moves

        return self.automaton_rule("uniq", (opn, cls), 0, step)
