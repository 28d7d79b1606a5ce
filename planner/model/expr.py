"""A tiny, safe expression language for tensor templates (``data/templates``).

Template dimensions and layer rules are short Python-like expressions over config
fields (``num_attention_heads * head_dim``, ``layer_types[i] == 'full_attention'``,
``(image_size // patch_size) ** 2 + 1``). They are parsed with :mod:`ast` and walked
with a whitelist: names, numbers, strings, arithmetic, comparisons, ``and``/``or``/
``not``, ``x if c else y``, subscripts and a few functions (``len``, ``min``, ``max``,
``int``, ``sum``, ``ceil_div``, ``isqrt``). Nothing is ever passed to ``eval``.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from planner.errors import ConfigError

#: Looks up a (possibly dotted) config field or index variable by name.
Resolver = Callable[[str], Any]

_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Div: operator.truediv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS: dict[type, Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
#: Largest magnitude any intermediate value may reach (far above any real dimension product).
_MAX_VALUE = 1 << 80


class ExprError(ConfigError):
    """A template expression met config values it cannot work with."""


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


_FUNCS: dict[str, Callable[..., Any]] = {
    "len": len,
    "min": min,
    "max": max,
    "int": int,
    "sum": sum,
    "ceil_div": _ceil_div,
    "bool": bool,
    "isqrt": math.isqrt,
}


@lru_cache(maxsize=4096)
def parse(text: str) -> ast.expr:
    """Parse and check ``text``; raise :class:`ValueError` on anything outside the whitelist."""
    tree = ast.parse(text, mode="eval").body
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCS or node.keywords:
                raise ValueError(f"call not allowed in template expression: {text!r}")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                raise ValueError(f"operator not allowed in template expression: {text!r}")
        elif isinstance(node, ast.Compare):
            if any(type(op) not in _CMPOPS for op in node.ops):
                raise ValueError(f"comparison not allowed in template expression: {text!r}")
        elif not isinstance(
            node,
            (
                ast.Name,
                ast.Attribute,
                ast.Constant,
                ast.UnaryOp,
                ast.BoolOp,
                ast.IfExp,
                ast.Subscript,
                ast.Tuple,
                ast.List,
                ast.Load,
                ast.operator,
                ast.cmpop,
                ast.boolop,
                ast.unaryop,
                ast.expr_context,
            ),
        ):
            raise ValueError(f"{type(node).__name__} not allowed in template expression: {text!r}")
    return tree


def dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else ``None``."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


@lru_cache(maxsize=4096)
def names(text: str) -> frozenset[str]:
    """Every config field (dotted name) ``text`` reads."""
    out = set()
    for node in ast.walk(parse(text)):
        if isinstance(node, (ast.Name, ast.Attribute)):
            name = dotted(node)
            if name is not None and name not in _FUNCS:
                out.add(name)
    return frozenset(n for n in out if not any(o != n and o.startswith(n + ".") for o in out))


def evaluate(text: str, resolve: Resolver) -> Any:
    """Evaluate ``text`` with field values from ``resolve``.

    Type errors, division by zero, out-of-range subscripts and runaway values raise
    :class:`ExprError` (a :class:`~planner.errors.ConfigError`) naming the expression.
    """
    try:
        return compiled(text)(resolve)
    except ExprError:
        raise
    except ConfigError:
        raise
    except (TypeError, ValueError, ZeroDivisionError, IndexError, KeyError, OverflowError) as exc:
        raise ExprError(f"config values do not fit the rule '{text}': {exc}") from None


def _check(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) > _MAX_VALUE:
        raise OverflowError("value out of range")
    if isinstance(value, float) and (not math.isfinite(value) or abs(value) > _MAX_VALUE):
        raise OverflowError("value out of range")
    return value


@lru_cache(maxsize=4096)
def compiled(text: str) -> Callable[[Resolver], Any]:
    """``text`` turned into nested closures once (evaluation then skips the tree walk)."""
    return _compile(parse(text))


def _num_arg(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise TypeError(f"arithmetic on {type(v).__name__}")
    return v


def _compile(node: ast.expr) -> Callable[[Resolver], Any]:
    if isinstance(node, ast.Constant):
        value = node.value
        return lambda r: value
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = dotted(node)
        if name is None:
            raise ValueError("bad name")
        return lambda r: r(name)
    if isinstance(node, ast.BinOp):
        left, right = _compile(node.left), _compile(node.right)
        op = _BINOPS[type(node.op)]
        if isinstance(node.op, ast.Pow):

            def power(r: Resolver) -> Any:
                a, b = _num_arg(left(r)), _num_arg(right(r))
                if not isinstance(b, int) or not 0 <= b <= 8:
                    raise ValueError("exponent out of range")
                return _check(a**b)

            return power
        return lambda r: _check(op(_num_arg(left(r)), _num_arg(right(r))))
    if isinstance(node, ast.UnaryOp):
        operand = _compile(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda r: not operand(r)
        if isinstance(node.op, ast.USub):
            return lambda r: -_num_arg(operand(r))
        if isinstance(node.op, ast.UAdd):
            return operand
        raise ValueError("bad unary operator")
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v) for v in node.values]
        if isinstance(node.op, ast.And):

            def all_of(r: Resolver) -> Any:
                result: Any = True
                for p in parts:
                    result = p(r)
                    if not result:
                        return result
                return result

            return all_of

        def any_of(r: Resolver) -> Any:
            result: Any = False
            for p in parts:
                result = p(r)
                if result:
                    return result
            return result

        return any_of
    if isinstance(node, ast.Compare):
        first = _compile(node.left)
        rest = [(_CMPOPS[type(op)], _compile(c)) for op, c in zip(node.ops, node.comparators, strict=True)]

        def compare(r: Resolver) -> bool:
            left = first(r)
            for op, comp in rest:
                right = comp(r)
                if not op(left, right):
                    return False
                left = right
            return True

        return compare
    if isinstance(node, ast.IfExp):
        test, body, orelse = _compile(node.test), _compile(node.body), _compile(node.orelse)
        return lambda r: body(r) if test(r) else orelse(r)
    if isinstance(node, ast.Subscript):
        seq_fn, index_fn = _compile(node.value), _compile(node.slice)

        def subscript(r: Resolver) -> Any:
            seq, index = seq_fn(r), index_fn(r)
            if (
                not isinstance(seq, (list, tuple, str))
                or isinstance(index, bool)
                or not isinstance(index, int)
            ):
                raise TypeError("subscript of a non-list")
            return seq[index]

        return subscript
    if isinstance(node, (ast.Tuple, ast.List)):
        items = [_compile(e) for e in node.elts]
        return lambda r: tuple(i(r) for i in items)
    if isinstance(node, ast.Call):
        args = [_compile(a) for a in node.args]
        name = node.func.id  # type: ignore[attr-defined]
        fn = _FUNCS[name]

        def call(r: Resolver) -> Any:
            values = [a(r) for a in args]
            if name == "int" and (len(values) != 1 or not isinstance(values[0], (int, float))):
                raise TypeError("int() of a non-number")
            if name == "ceil_div" and (len(values) != 2 or not all(isinstance(a, int) for a in values)):
                raise TypeError("ceil_div() of non-integers")
            if name in ("sum", "min", "max") and len(values) == 1:
                seq = values[0]
                if not isinstance(seq, (list, tuple)) or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in seq
                ):
                    raise TypeError(f"{name}() of a non-numeric list")
            if name == "isqrt" and (len(values) != 1 or not isinstance(values[0], int) or values[0] < 0):
                raise TypeError("isqrt() of a non-natural number")
            if name == "len" and (len(values) != 1 or not isinstance(values[0], (list, tuple, str))):
                raise TypeError("len() of a non-list")
            return _check(fn(*values))

        return call
    raise ValueError(f"{type(node).__name__} not allowed")
