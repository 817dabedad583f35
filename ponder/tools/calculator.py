"""`calculator`: exact arithmetic a small model would otherwise get wrong, without `eval`.

The expression is parsed with `ast` and only whitelisted nodes are evaluated, so no user text is ever
executed. Numbers are exact fractions (0.1 + 0.2 is 3/10, big integers stay exact) until a function
with an irrational result (sqrt of a non-square, log, sin…) makes them floats. `^` means power, as
people write it. Powers, factorials and binomials whose results would be absurdly large are refused
before they are computed.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Callable
from fractions import Fraction

from ponder.errors import ToolError
from ponder.tools.decorator import tool

Number = Fraction | float
MAX_DIGITS = 10_000
"""Largest result (in decimal digits) any single operation may produce."""
SHOWN_DIGITS = 4_000
MAX_LENGTH = 2_000
CONSTANTS: dict[str, Number] = {"pi": math.pi, "e": math.e, "tau": math.tau}


def _digits(x: Fraction) -> float:
    return max(abs(x.numerator), x.denominator, 1).bit_length() * math.log10(2)


def _power(base: Number, exp: Number) -> Number:
    if isinstance(exp, Fraction) and exp.denominator == 1:
        n = exp.numerator
        if isinstance(base, Fraction):
            if base == 0 and n < 0:
                raise ToolError("0 cannot be raised to a negative power")
            if abs(n) * _digits(base) > MAX_DIGITS:
                raise ToolError(f"the result would have about {abs(n) * _digits(base):,.0f} digits; that is too large")
            return base**n
        return float(base) ** n
    if isinstance(base, Fraction) and isinstance(exp, Fraction) and base > 0:
        root = _exact_root(base, exp.denominator)
        if root is not None:
            return _power(root, Fraction(exp.numerator))
    if base < 0:
        raise ToolError("a negative number to a fractional power is not a real number")
    return _float(float(base) ** float(exp))


def _exact_root(x: Fraction, k: int) -> Fraction | None:
    if k > 64:
        return None
    roots = [round(v ** (1 / k)) if v < 2**52 else _int_root(v, k) for v in (x.numerator, x.denominator)]
    if roots[0] ** k == x.numerator and roots[1] ** k == x.denominator:
        return Fraction(roots[0], roots[1])
    return None


def _int_root(v: int, k: int) -> int:
    lo, hi = 0, 1 << (v.bit_length() // k + 1)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if mid**k <= v else (lo, mid - 1)
    return lo


def _float(x: float) -> float:
    if math.isinf(x) or math.isnan(x):
        raise ToolError("the result is too large (overflow) or undefined")
    return x


def _real(f: Callable[[float], float]) -> Callable[[Number], Number]:
    def call(x: Number) -> Number:
        try:
            return _float(f(float(x)))
        except (ValueError, OverflowError):
            raise ToolError(f"{f.__name__}({_show(x)}) is not defined or too large") from None

    return call


def _integer(x: Number, what: str) -> int:
    if not (isinstance(x, Fraction) and x.denominator == 1 and x >= 0):
        raise ToolError(f"{what} needs a whole number ≥ 0, not {_show(x)}")
    return x.numerator


def _sqrt(x: Number) -> Number:
    if x < 0:
        raise ToolError(f"sqrt({_show(x)}): the square root of a negative number is not real")
    if isinstance(x, Fraction) and (root := _exact_root(x, 2)) is not None:
        return root
    return math.sqrt(x)


def _log(x: Number, base: Number = Fraction(10)) -> Number:
    if x <= 0 or base <= 0 or base == 1:
        raise ToolError(f"log({_show(x)}, {_show(base)}) is not defined")
    if isinstance(x, Fraction) and isinstance(base, Fraction) and x.denominator == base.denominator == 1:
        n, b, k = x.numerator, base.numerator, 0
        while n % b == 0 and n > 1:
            n, k = n // b, k + 1
        if n == 1:
            return Fraction(k)
    return math.log(float(x), float(base))


def _factorial(x: Number) -> Number:
    n = _integer(x, "factorial")
    if n > 3_000:
        raise ToolError(f"factorial({n}) has more than {MAX_DIGITS:,} digits; that is too large")
    return Fraction(math.factorial(n))


def _comb(n: Number, k: Number) -> Number:
    a, b = _integer(n, "comb"), _integer(k, "comb")
    if min(b, a - b) * math.log10(max(a, 2)) > MAX_DIGITS:
        raise ToolError(f"comb({a}, {b}) is too large")
    return Fraction(math.comb(a, b))


def _perm(n: Number, k: Number) -> Number:
    a, b = _integer(n, "perm"), _integer(k, "perm")
    if b * math.log10(max(a, 2)) > MAX_DIGITS:
        raise ToolError(f"perm({a}, {b}) is too large")
    return Fraction(math.perm(a, b))


def _round(x: Number, ndigits: Number = Fraction(0)) -> Number:
    n = ndigits.numerator if isinstance(ndigits, Fraction) and ndigits.denominator == 1 else None
    if n is None:
        raise ToolError("round's second argument is a whole number of decimal places")
    return round(x, n) if isinstance(x, Fraction) else Fraction(str(round(x, n)))


def _whole(f: Callable[[Number], int]) -> Callable[[Number], Number]:
    return lambda x: Fraction(f(x))


FUNCTIONS: dict[str, Callable[..., Number]] = {
    "sqrt": _sqrt,
    "cbrt": lambda x: _power(x, Fraction(1, 3)) if x >= 0 else -_power(-x, Fraction(1, 3)),
    "log": _log,
    "ln": _real(math.log),
    "log2": lambda x: _log(x, Fraction(2)),
    "log10": _log,
    "exp": _real(math.exp),
    "sin": _real(math.sin),
    "cos": _real(math.cos),
    "tan": _real(math.tan),
    "asin": _real(math.asin),
    "acos": _real(math.acos),
    "atan": _real(math.atan),
    "sinh": _real(math.sinh),
    "cosh": _real(math.cosh),
    "tanh": _real(math.tanh),
    "degrees": _real(math.degrees),
    "radians": _real(math.radians),
    "factorial": _factorial,
    "comb": _comb,
    "perm": _perm,
    "round": _round,
    "abs": abs,
    "floor": _whole(math.floor),
    "ceil": _whole(math.ceil),
    "min": min,
    "max": max,
    "gcd": lambda *xs: Fraction(math.gcd(*(_integer(abs(x), "gcd") for x in xs))),
    "lcm": lambda *xs: Fraction(math.lcm(*(_integer(abs(x), "lcm") for x in xs))),
}


def _checked(op: Callable[[Number, Number], Number]) -> Callable[[Number, Number], Number]:
    def call(a: Number, b: Number) -> Number:
        try:
            result = op(a, b)
        except ZeroDivisionError:
            raise ToolError("division by zero") from None
        except OverflowError:
            raise ToolError("the result is too large (overflow)") from None
        if isinstance(result, Fraction) and _digits(result) > MAX_DIGITS:
            raise ToolError("the result has too many digits")
        return _float(result) if isinstance(result, float) else result

    return call


BINARY: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: _checked(operator.add),
    ast.Sub: _checked(operator.sub),
    ast.Mult: _checked(operator.mul),
    ast.Div: _checked(operator.truediv),
    ast.FloorDiv: _checked(lambda a, b: Fraction(a // b)),
    ast.Mod: _checked(operator.mod),
    ast.Pow: _power,
    ast.BitXor: _power,
}


def _eval(node: ast.AST) -> Number:
    match node:
        case ast.Expression(body=body):
            return _eval(body)
        case ast.Constant(value=bool()):
            raise ToolError("true/false are not numbers")
        case ast.Constant(value=int() | float() as v):
            return Fraction(str(v)) if isinstance(v, float) and math.isfinite(v) else Fraction(v)
        case ast.UnaryOp(op=ast.USub(), operand=x):
            return -_eval(x)
        case ast.UnaryOp(op=ast.UAdd(), operand=x):
            return +_eval(x)
        case ast.BinOp(left=a, op=op, right=b) if type(op) in BINARY:
            return BINARY[type(op)](_eval(a), _eval(b))
        case ast.Name(id=name) if name in CONSTANTS:
            return CONSTANTS[name]
        case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if name in FUNCTIONS:
            try:
                return FUNCTIONS[name](*(_eval(a) for a in args))
            except TypeError:
                raise ToolError(f"{name} was given {len(args)} argument(s), which it does not take") from None
        case ast.Name(id=name) | ast.Call(func=ast.Name(id=name)):
            raise ToolError(
                f"unknown name {name!r}; known: {', '.join([*CONSTANTS, *FUNCTIONS])}. "
                "For variables, loops or sums over a range, use the python tool."
            )
    raise ToolError(f"{ast.unparse(node)!r} is not arithmetic this calculator understands")


def _show(x: Number) -> str:
    if isinstance(x, float):
        return f"{x:.15g}"
    if x.denominator == 1:
        if _digits(x) > SHOWN_DIGITS:
            exponent = int(_digits(x))
            return f"≈ {float(x / 10 ** (exponent - 15)) / 1e15:.15g}e+{exponent} ({len(str(abs(x.numerator)))} digits)"
        return str(x.numerator)
    d = x.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d == 1 and _digits(x) < 60:  # a terminating decimal: show it exactly
        places = max(_multiplicity(x.denominator, 2), _multiplicity(x.denominator, 5))
        whole = abs(x.numerator) * 10**places // x.denominator
        text = f"{'-' if x < 0 else ''}{whole // 10**places}.{whole % 10**places:0{places}d}"
        return text
    if _digits(x) <= 12:
        return f"{x.numerator}/{x.denominator} ≈ {float(x):.15g}"
    return f"≈ {float(x):.15g}"


def _multiplicity(n: int, p: int) -> int:
    k = 0
    while n % p == 0:
        n, k = n // p, k + 1
    return k


FACTORIAL = re.compile(r"(\d+)\s*!(?!=)")
"""`17!`, as people write it; `(a+b)!` is left to the error that says how to write it."""


def calculate(expression: str) -> str:
    """The value of an arithmetic expression, shown exactly where it is exact."""
    text = expression.strip().replace("×", "*").replace("÷", "/").replace("−", "-").replace("**", "^")
    # Small models write Python's habits and people's notation; both are unambiguous here.
    text = FACTORIAL.sub(r"factorial(\1)", re.sub(r"\bmath\.", "", text))
    if not text:
        raise ToolError("the expression is empty")
    if len(text) > MAX_LENGTH:
        raise ToolError(f"the expression is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(text.replace("^", "**"), mode="eval")
    except SyntaxError as exc:
        raise ToolError(f"cannot parse {expression!r}: {exc.msg}. {_parse_hint(text)}".rstrip()) from None
    if isinstance(tree.body, ast.Tuple):  # "4,837 * 9,261" parses as a tuple
        raise ToolError(
            f"cannot compute {expression!r}: write numbers without thousands separators (4837, not 4,837); "
            "commas only separate a function's arguments"
        )
    return _show(_eval(tree))


def _parse_hint(text: str) -> str:
    """What to change in an expression that does not parse, for the mistakes small models make."""
    if "!" in text:
        return "Write factorial(n) for n!."
    if "\n" in text or "=" in text.replace("==", ""):
        return 'Send one expression, e.g. "2^40", not assignments or statements; for a program, use the python tool.'
    return ""


@tool(name="calculator", outside_text=False)
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression exactly: + - * / // % ^ (power), parentheses, and sqrt, cbrt,
    log (base 10, or log(x, base)), ln, log2, exp, sin, cos, tan (radians), asin, acos, atan, degrees,
    radians, factorial, comb, perm, round(x, places), abs, floor, ceil, min, max, gcd, lcm, pi, e.

    Args:
        expression: The expression, e.g. "1000 * (1 + 0.05/12)^(12*10)" or "sqrt(2) * factorial(10)".
    """
    return calculate(expression)
