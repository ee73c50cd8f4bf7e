"""Overrides of a scenario's values as the command line writes them: ``[N:]KEY=VALUE``, a dotted key path and a TOML value."""

from __future__ import annotations

import re
import tomllib


from sim.core.errors import InputError


_SET = re.compile(r"(?:(\d+):)?([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)=(.*)", re.S)


_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


def parse_set(text: str) -> tuple[int | None, str, object]:
    """``[N:]KEY=VALUE`` -> (N or None, KEY, VALUE). VALUE is read as a TOML value (``0.9``, ``true``,
    ``[1, 2]``, ``"text"``, ``2024-03-04``); a bare word that is no TOML value (``tit_for_tat``) is
    taken as text, so a rule name needs no quotes in the shell."""
    m = _SET.fullmatch(text)
    if not m:
        raise InputError(f"--set {text}: expected KEY=VALUE (a dotted key path, e.g. alliances.us_rok.cohesion=0.9), "
                         "or N:KEY=VALUE for the N-th scenario only")
    index, key, raw = m.groups()
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if not _BARE.fullmatch(raw):
            raise InputError(f"--set {text}: {raw!r} is not a TOML value (a number, true/false, a date, "
                             "[a, list] or \"quoted text\")") from None
        value = raw
    return (int(index) if index is not None else None), key, value


def set_overrides(items: list[str] | None, targets: int = 1) -> list[dict]:
    """The overrides of each of ``targets`` scenarios from ``--set`` arguments: ``KEY=VALUE`` applies to
    every scenario, ``N:KEY=VALUE`` to the N-th only (from 1) and wins over the former."""
    common, own = {}, [{} for _ in range(targets)]
    for text in items or []:
        index, key, value = parse_set(text)
        if index is None:
            common[key] = value
        elif not 1 <= index <= targets:
            raise InputError(f"--set {text}: there {'is 1 scenario' if targets == 1 else f'are {targets} scenarios'}; "
                             f"N in N:KEY=VALUE counts them from 1")
        else:
            own[index - 1][key] = value
    return [{**common, **o} for o in own]
