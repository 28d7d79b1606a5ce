"""Fitting small expressions to observations (offline; pure Python, used by ``derive_templates``).

Two fitters:

- :func:`fit_number` finds an integer expression over config fields (``2 * hidden_size``,
  ``num_attention_heads * head_dim + 2 * num_key_value_heads * head_dim``,
  ``(image_size // patch_size) ** 2 + 1``) that reproduces every observed value exactly;
- :func:`fit_predicate` finds a boolean rule over a layer index ``i`` and config fields
  (``layer_types[i] == 'full_attention'``, ``i >= first_k_dense_replace``,
  ``(i + 1) % decoder_sparse_step == 0 and i not in mlp_only_layers``).

Candidates are enumerated simplest first and checked against every observation; the first
that fits all of them wins. Nothing is guessed: no fit, no template.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

Env = dict[str, Any]

#: Largest |coefficient| or |constant| accepted in a fitted expression.
MAX_COEF = 64
MAX_CONST = 1 << 22
CONST_DIVISORS = (2, 3, 4, 8, 16)


@dataclass(frozen=True)
class Term:
    text: str
    fn: Callable[[Env], Any]
    cost: int


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _paren(text: str) -> str:
    return (
        text
        if text.replace("_", "").replace(".", "").replace("[", "").replace("]", "").isalnum()
        else f"({text})"
    )


def _mul(*names: str) -> Callable[[Env], Any]:
    def fn(e: Env) -> Any:
        out = 1
        for n in names:
            out *= e[n]
        return out

    return fn


def _floordiv(a: str, b: str, times: str | None = None) -> Callable[[Env], Any]:
    return lambda e: e[a] // e[b] * (e[times] if times else 1)


def _floordiv_const(a: str, c: int) -> Callable[[Env], Any]:
    return lambda e: e[a] // c


def _ceildiv(a: str, b: str | int) -> Callable[[Env], Any]:
    return lambda e: -(-e[a] // (e[b] if isinstance(b, str) else b))


def _square_ratio(a: str, b: str) -> Callable[[Env], Any]:
    return lambda e: (e[a] // e[b]) ** 2


def _mul_div(a: str, c: str, b: str) -> Callable[[Env], Any]:
    return lambda e: e[a] * e[c] // e[b]


def _div_prod(a: str, b: str, c: str) -> Callable[[Env], Any]:
    return lambda e: e[a] // (e[b] * e[c])


def _int_times(a: str | None, r: str) -> Callable[[Env], Any]:
    return lambda e: int((e[a] if a else 1) * e[r])


def _isqrt(a: str) -> Callable[[Env], Any]:
    import math

    return lambda e: math.isqrt(e[a])


def _int_over(a: str, r: str, power: int) -> Callable[[Env], Any]:
    return lambda e: int(e[a] / e[r] ** power)


def number_terms(int_atoms: Sequence[str], float_atoms: Sequence[str] = ()) -> list[Term]:
    """Monomials of degree <= 3 over ``int_atoms`` (with floor divisions), cheapest first."""
    terms: list[Term] = [Term(a, _mul(a), 1) for a in int_atoms]
    for a, b in itertools.combinations_with_replacement(int_atoms, 2):
        terms.append(Term(f"{a} * {b}", _mul(a, b), 2))
    for a, b in itertools.permutations(int_atoms, 2):
        terms.append(Term(f"{a} // {b}", _floordiv(a, b), 2))
    for a in int_atoms:
        terms.append(Term(f"isqrt({a})", _isqrt(a), 3))
        for c in CONST_DIVISORS:
            terms.append(Term(f"{a} // {c}", _floordiv_const(a, c), 2))
            terms.append(Term(f"ceil_div({a}, {c})", _ceildiv(a, c), 3))
    for a, b in itertools.permutations(int_atoms, 2):
        terms.append(Term(f"({a} // {b}) ** 2", _square_ratio(a, b), 3))
        terms.append(Term(f"ceil_div({a}, {b})", _ceildiv(a, b), 3))
        terms.append(Term(f"{a} // {b} * {b}", _floordiv(a, b, b), 3))
    for a, b, c in itertools.combinations_with_replacement(int_atoms, 3):
        terms.append(Term(f"{a} * {b} * {c}", _mul(a, b, c), 3))
    for a, b in itertools.permutations(int_atoms, 2):
        for c in int_atoms:
            if c in (a, b):
                continue
            terms.append(Term(f"{a} // {b} * {c}", _floordiv(a, b, c), 3))
            terms.append(Term(f"{a} * {c} // {b}", _mul_div(a, c, b), 3))
            terms.append(Term(f"{a} // ({b} * {c})", _div_prod(a, b, c), 3))
    for r in float_atoms:
        for a in int_atoms:
            terms.append(Term(f"int({a} * {r})", _int_times(a, r), 2))
            terms.append(Term(f"int({a} / {r})", _int_over(a, r, 1), 3))
            terms.append(Term(f"int({a} / ({r} * {r}))", _int_over(a, r, 2), 3))
        terms.append(Term(f"int({r})", _int_times(None, r), 2))
    return terms


def _values(term: Term, envs: Sequence[Env]) -> list[int] | None:
    out = []
    for env in envs:
        try:
            v = term.fn(env)
        except (ZeroDivisionError, TypeError, KeyError, ValueError, OverflowError, IndexError):
            return None
        if not _int(v) or abs(v) > 1 << 60:
            return None
        out.append(v)
    return out


def _render(terms: Sequence[Term], coefs: Sequence[int]) -> str:
    parts = []
    for term, c in zip(terms, coefs[:-1], strict=True):
        text = term.text if c == 1 else f"{c} * {_paren(term.text)}"
        parts.append(text)
    if coefs[-1]:
        parts.append(str(coefs[-1]))
    out = " + ".join(parts) if parts else "0"
    return out.replace("+ -", "- ")


def fit_number(
    envs: Sequence[Env], targets: Sequence[int], atoms: Iterable[str], *, max_terms: int = 3
) -> str | None:
    """The simplest expression over ``atoms`` equal to ``targets[k]`` in ``envs[k]`` for every k."""
    targets = list(targets)
    if not targets:
        return None
    if len(set(targets)) == 1:
        return str(targets[0])
    atoms = sorted(set(atoms), key=lambda a: (a.startswith(("len(", "sum(", "max(")), a))
    int_atoms = [a for a in atoms if all(_int(e.get(a)) for e in envs)]
    float_atoms = [a for a in atoms if a not in int_atoms and all(_num(e.get(a)) for e in envs)]
    terms = []
    seen: set[tuple[int, ...]] = set()
    for term in number_terms(int_atoms, float_atoms):
        vals = _values(term, envs)
        if vals is None or len(set(vals)) == 1:
            continue
        key = tuple(vals)
        if key in seen:
            continue  # an equivalent, cheaper term is already in the pool
        seen.add(key)
        terms.append((term, vals))
    # distinct observation rows only (duplicates add nothing to a linear solve)
    rows = sorted({(tuple(v[k] for _, v in terms), targets[k]): k for k in range(len(targets))}.values())
    if not terms:
        return None
    y = [targets[k] for k in rows]
    for size in range(1, max_terms + 1):
        pool = terms if size < 3 else [t for t in terms if t[0].cost <= 2][:80]
        best = None
        for combo, coefs in _batch_solve(pool, rows, y, size):
            cost = sum(t.cost for t, _ in combo) + sum(abs(c) != 1 for c in coefs[:-1]) + (coefs[-1] != 0)
            if best is None or cost < best[0]:
                best = (cost, [t for t, _ in combo], coefs)
        if best is not None:
            return _render(best[1], best[2])
    return None


def _batch_solve(pool: list, rows: list[int], y: list[int], size: int):
    """Every ``size``-term combination of ``pool`` that fits ``y`` exactly with small integer coefficients.

    All combinations are solved at once (normal equations, numpy); the few whose float
    residual is tiny are then checked exactly in integers. Singular systems (terms the
    observations cannot tell apart) are skipped.
    """
    import numpy as np

    if len(rows) < size + 2:
        return
    x = np.array([[vals[k] for k in rows] for _, vals in pool], dtype=float).T  # rows x terms
    scale = np.abs(x).max(axis=0)
    scale[scale == 0] = 1.0
    xs = x / scale
    yv = np.array(y, dtype=float)
    yscale = max(float(np.abs(yv).max()), 1.0)
    ys = yv / yscale
    ones = np.ones(len(rows))
    combos = np.array(list(itertools.combinations(range(len(pool)), size)), dtype=np.int64)
    if not len(combos):
        return
    for chunk in np.array_split(combos, max(1, len(combos) // 20000)):
        a = np.concatenate(
            [xs[:, chunk], np.broadcast_to(ones[:, None, None], (len(rows), len(chunk), 1))], axis=2
        )
        a = np.transpose(a, (1, 0, 2))  # combos x rows x (size+1)
        gram = np.einsum("nri,nrj->nij", a, a)
        rhs = np.einsum("nri,r->ni", a, ys)
        det = np.linalg.det(gram)
        ok = np.abs(det) > 1e-9
        if not ok.any():
            continue
        sol = np.zeros((len(chunk), size + 1))
        sol[ok] = np.linalg.solve(gram[ok], rhs[ok][..., None])[..., 0]
        resid = np.abs(np.einsum("nri,ni->nr", a, sol) - ys[None, :]).max(axis=1)
        good = np.nonzero(ok & (resid < 1e-6))[0]
        for g in good[:200]:
            idx = chunk[g]
            raw = sol[g] * yscale / np.append(scale[idx], 1.0)
            coefs = [round(float(c)) for c in raw]
            if any(abs(c) > MAX_COEF or c == 0 for c in coefs[:-1]) or abs(coefs[-1]) > MAX_CONST:
                continue
            combo = [pool[i] for i in idx]
            if all(
                sum(c * vals[k] for c, (_, vals) in zip(coefs, combo, strict=False)) + coefs[-1] == target
                for k, target in zip(rows, y, strict=True)
            ):
                yield combo, coefs


# --------------------------------------------------------------------------------------------
# Predicates over an index ``i``


@dataclass(frozen=True)
class Literal:
    text: str
    truth: tuple[bool, ...]  # one entry per (observation, position) cell


def predicate_atoms(cells: Sequence[tuple[Env, int, int]], fields: Env | None = None) -> list[Literal]:
    """Candidate atoms for rules over ``i``: ``cells`` are ``(env, i, n)`` with ``n`` the range length."""
    atoms: dict[tuple[bool, ...], str] = {}

    def add(text: str, fn: Callable[[Env, int, int], Any]) -> None:
        try:
            truth = tuple(bool(fn(e, i, n)) for e, i, n in cells)
        except (ZeroDivisionError, TypeError, KeyError, IndexError, ValueError):
            return
        if truth not in atoms or len(text) < len(atoms[truth]):
            atoms[truth] = text

    env0 = cells[0][0]
    keys = sorted(env0)
    for key in keys:
        v0 = env0[key]
        if isinstance(v0, (list, tuple)) and all(len(e.get(key) or ()) >= n for e, _, n in cells):
            values = sorted({str(x) for e, i, n in cells for x in e[key][:n]})
            if all(isinstance(x, str) for x in v0):
                for val in values:
                    add(f"{key}[i] == {val!r}", lambda e, i, n, key=key, val=val: e[key][i] == val)
            elif all(isinstance(x, bool) for x in v0):
                add(f"{key}[i]", lambda e, i, n, key=key: e[key][i])
            elif all(_int(x) for x in v0):
                add(f"{key}[i] > 0", lambda e, i, n, key=key: e[key][i] > 0)
                for val in sorted({x for e, i, n in cells for x in e[key][:n]})[:6]:
                    add(f"{key}[i] == {val}", lambda e, i, n, key=key, val=val: e[key][i] == val)
        if (
            isinstance(v0, list)
            and v0
            and all(isinstance(x, str) for x in v0)
            and all(isinstance(e.get(key), list) and e[key] for e, _, _ in cells)
        ):
            # a short pattern repeated over the layers (RecurrentGemma's block_types)
            for val in sorted({x for e, _, _ in cells for x in e[key] if isinstance(x, str)}):
                add(
                    f"{key}[i % len({key})] == {val!r}",
                    lambda e, i, n, key=key, val=val: e[key][i % len(e[key])] == val,
                )
        if isinstance(v0, str) and all(isinstance(e.get(key), str) and len(e[key]) >= n for e, _, n in cells):
            for ch in sorted({c for e, _, n in cells for c in e[key][:n]}):
                add(f"{key}[i] == {ch!r}", lambda e, i, n, key=key, ch=ch: e[key][i] == ch)
        if isinstance(v0, (list, tuple)) and all(
            isinstance(e.get(key), (list, tuple)) and all(_int(x) for x in e[key]) for e, _, _ in cells
        ):
            add(f"i in {key}", lambda e, i, n, key=key: i in e[key])
        if _int(v0) and all(_int(e.get(key)) for e, _, _ in cells) and 0 <= v0 <= 4096:
            add(f"i < {key}", lambda e, i, n, key=key: i < e[key])
            add(f"(i + 1) % {key} == 0", lambda e, i, n, key=key: (i + 1) % e[key] == 0)
            add(f"i % {key} == 0", lambda e, i, n, key=key: i % e[key] == 0)
            add(f"i >= n - {key}", lambda e, i, n, key=key: i >= n - e[key])
    for c in range(1, 9):
        add(f"i < {c}", lambda e, i, n, c=c: i < c)
        for r in range(c):
            if c > 1:
                add(f"i % {c} == {r}", lambda e, i, n, c=c, r=r: i % c == r)
    add("i == n - 1", lambda e, i, n: i == n - 1)
    add("i == 0", lambda e, i, n: i == 0)
    return [Literal(text, truth) for truth, text in atoms.items()]


def _neg(text: str) -> str:
    for a, b in (
        (" == ", " != "),
        (" != ", " == "),
        (" < ", " >= "),
        (" >= ", " < "),
        (" not in ", " in "),
        (" in ", " not in "),
    ):
        if a in text and text.count(a) == 1 and " and " not in text and " or " not in text:
            return text.replace(a, b)
    return f"not ({text})" if " " in text else f"not {text}"


def fit_predicate(
    cells: Sequence[tuple[Env, int, int]], wanted: Sequence[bool], max_literals: int = 3
) -> str | None:
    """The simplest rule over ``i`` true exactly on the cells where ``wanted`` is."""
    target = tuple(bool(w) for w in wanted)
    if all(target):
        return "True"
    if not any(target):
        return "False"
    atoms = predicate_atoms(cells)
    lits = []
    for a in atoms:
        lits.append(a)
        lits.append(Literal(_neg(a.text), tuple(not t for t in a.truth)))
    for lit in lits:
        if lit.truth == target:
            return lit.text
    # conjunctions / disjunctions of two literals
    as_int = [(lit.text, _mask(lit.truth)) for lit in lits]
    goal = _mask(target)
    full = (1 << len(target)) - 1
    best = None
    for (ta, ma), (tb, mb) in itertools.combinations(as_int, 2):
        if ma & mb == goal:
            cand = f"{_wrap(ta)} and {_wrap(tb)}"
        elif ma | mb == goal:
            cand = f"{_wrap(ta)} or {_wrap(tb)}"
        else:
            continue
        if best is None or len(cand) < len(best):
            best = cand
    if best is not None or max_literals < 3:
        return best
    # three-literal disjunctions of positive literals (patterns such as ``i < 2 or i % 4 == 1 or i == n - 1``)
    useful = sorted(((t, m) for t, m in as_int if m & ~goal & full == 0 and m), key=lambda tm: len(tm[0]))[
        :40
    ]
    for (ta, ma), (tb, mb), (tc, mc) in itertools.combinations(useful, 3):
        if ma | mb | mc == goal:
            cand = f"{_wrap(ta)} or {_wrap(tb)} or {_wrap(tc)}"
            if best is None or len(cand) < len(best):
                best = cand
    if best is not None:
        return best
    useful = sorted(
        ((t, m) for t, m in as_int if goal & ~m & full == 0 and m != full), key=lambda tm: len(tm[0])
    )[:40]
    for (ta, ma), (tb, mb), (tc, mc) in itertools.combinations(useful, 3):
        if ma & mb & mc == goal:
            cand = f"{_wrap(ta)} and {_wrap(tb)} and {_wrap(tc)}"
            if best is None or len(cand) < len(best):
                best = cand
    return best


def _wrap(text: str) -> str:
    return f"({text})" if " or " in text or " and " in text else text


def _mask(truth: Sequence[bool]) -> int:
    m = 0
    for k, t in enumerate(truth):
        if t:
            m |= 1 << k
    return m


def condition_atoms(envs: Sequence[Env], focus: Iterable[str] = ()) -> list[Literal]:
    """Candidate config-level atoms: flags, nulls, positive counts, string choices, empty lists."""
    atoms: dict[tuple[bool, ...], str] = {}

    def add(text: str, fn: Callable[[Env], Any]) -> None:
        try:
            truth = tuple(bool(fn(e)) for e in envs)
        except (ZeroDivisionError, TypeError, KeyError, IndexError, ValueError):
            return
        if truth not in atoms or len(text) < len(atoms[truth]):
            atoms[truth] = text

    keys = sorted({k for e in envs for k in e})
    for key in keys:
        values = [e.get(key) for e in envs]
        if len({repr(v) for v in values}) < 2:
            continue
        if any(v is None for v in values):
            add(f"{key} != None", lambda e, key=key: e.get(key) is not None)
        if all(isinstance(v, bool) or v is None for v in values):
            add(key, lambda e, key=key: bool(e.get(key)))
        elif all(_int(v) or v is None for v in values):
            add(f"{key} > 0", lambda e, key=key: (e.get(key) or 0) > 0)
            add(f"{key} > 1", lambda e, key=key: (e.get(key) or 0) > 1)
        elif all(isinstance(v, str) or v is None for v in values):
            for val in sorted({v for v in values if isinstance(v, str)}):
                add(f"{key} == {val!r}", lambda e, key=key, val=val: e.get(key) == val)
        elif all(isinstance(v, list) or v is None for v in values):
            add(f"len({key}) > 0", lambda e, key=key: len(e.get(key) or ()) > 0)
    focus = sorted(k for k in set(focus) if all(_int(e.get(k)) for e in envs))
    ints = [k for k in keys if all(_int(e.get(k)) for e in envs)]
    for a in focus:
        for b in ints:
            if a != b:
                add(f"{a} != {b}", lambda e, a=a, b=b: e[a] != e[b])
                add(f"{a} > {b}", lambda e, a=a, b=b: e[a] > e[b])
    return [Literal(text, truth) for truth, text in atoms.items()]


def fit_condition(
    cells: Sequence[tuple[Env, int, int]], wanted: Sequence[bool], focus: Iterable[str] = ()
) -> str | None:
    """The simplest config-level rule (no index) true exactly where ``wanted`` is."""
    target = tuple(bool(w) for w in wanted)
    if all(target):
        return "True"
    envs = [e for e, _, _ in cells]
    atoms = condition_atoms(envs, focus)
    lits = []
    for a in atoms:
        lits.append(a)
        lits.append(Literal(_neg(a.text), tuple(not t for t in a.truth)))
    for lit in lits:
        if lit.truth == target:
            return lit.text
    goal = _mask(target)
    best = None
    as_int = [(lit.text, _mask(lit.truth)) for lit in lits]
    for (ta, ma), (tb, mb) in itertools.combinations(as_int, 2):
        if ma & mb == goal:
            cand = f"{_wrap(ta)} and {_wrap(tb)}"
        elif ma | mb == goal:
            cand = f"{_wrap(ta)} or {_wrap(tb)}"
        else:
            continue
        if best is None or len(cand) < len(best):
            best = cand
    if best is not None:
        return best
    full = (1 << len(target)) - 1
    useful = sorted(
        ((t, m) for t, m in as_int if goal & ~m & full == 0 and m != full), key=lambda tm: len(tm[0])
    )[:40]
    for (ta, ma), (tb, mb), (tc, mc) in itertools.combinations(useful, 3):
        if ma & mb & mc == goal:
            cand = f"{_wrap(ta)} and {_wrap(tb)} and {_wrap(tc)}"
            if best is None or len(cand) < len(best):
                best = cand
    return best
