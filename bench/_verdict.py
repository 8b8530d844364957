"""The closing lines of a bench: one per target, with the figure, the target and ``pass``
or ``MISS``, the same in every bench (issue 18), so that a reader, or ``grep -E ': (pass|MISS)$'``
over ``make bench``, finds every verdict the same way::

    case opened -> first SMS, p99: 864 ms (target < 2,000 ms): pass
    held-out bounces recognised: 58/64 (90.6%) (target >= 95%): MISS

The bench keeps its own exit status: a miss is a figure to read, not an error.
"""

from __future__ import annotations


def verdict(what: str, figure: str, target: str, met: bool) -> bool:
    """Print ``what: figure (target target): pass`` (or ``MISS``); return ``met``."""
    print(f"{what}: {figure} (target {target}): {'pass' if met else 'MISS'}")
    return met


def at_least(what: str, figure: float, floor: float, unit: str = "", digits: int = 0) -> bool:
    """The target is ``floor`` or more (a figure exactly at it passes)."""
    return verdict(
        what, _number(figure, unit, digits), f">= {_number(floor, unit, digits)}", figure >= floor
    )


def under(what: str, figure: float, limit: float, unit: str = "", digits: int = 0) -> bool:
    """The target is less than ``limit`` (a figure exactly at it misses)."""
    return verdict(
        what, _number(figure, unit, digits), f"< {_number(limit, unit, digits)}", figure < limit
    )


def _number(value: float, unit: str, digits: int) -> str:
    text = f"{value:,.{digits}f}"
    if not unit:
        return text
    return text + unit if unit in ("%", "x") or unit.startswith("/") else f"{text} {unit}"
