"""A name that is not one of the choices: the error says which choice was probably meant, then lists them all.

Most misses are spelling (``lineardml``, ``Exposed``, ``switch-dr``): folding case and separators catches
those exactly, and difflib's ratio catches typos."""

from __future__ import annotations

from collections.abc import Iterable
from difflib import get_close_matches


def _fold(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def nearest(given: str, choices: Iterable[str]) -> str | None:
    """The choice ``given`` most likely meant: equal up to case and separators, else the closest spelling."""
    options = [str(c) for c in choices]
    folded = {_fold(c): c for c in options}
    if _fold(given) in folded:
        return folded[_fold(given)]
    close = get_close_matches(_fold(given), list(folded), n=1, cutoff=0.75)
    return folded[close[0]] if close else None


def did_you_mean(given: str, choices: Iterable[str]) -> str:
    """``"did you mean 'x'? "`` for a near miss, else an empty string: a prefix for a hint."""
    guess = nearest(given, choices)
    return f"did you mean '{guess}'? " if guess is not None and guess != given else ""


def unknown_choice(what: str, given: str, choices: Iterable[str]) -> str:
    """``unknown estimator 'lineardml'; did you mean 'linear_dml'? choose from …``"""
    options = list(choices)
    return f"unknown {what} '{given}'; {did_you_mean(given, options)}choose from {', '.join(map(str, options))}"


def do_not_apply(given: list[str]) -> str:
    """``"--lift does not apply"`` or ``"--lift, --sd do not apply"``: settings given where they would be dropped."""
    return f"{', '.join(given)} {'does' if len(given) == 1 else 'do'} not apply"
