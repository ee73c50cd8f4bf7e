"""Files written so that readers see the old one or the new one, never a part; and the versions behind them.

Every result file is written atomically (a temporary file in the same directory, then ``os.replace``);
a results directory is built beside the old one and swapped in whole (:func:`replace_dir`).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

from sim.core.errors import InputError


def versions() -> dict[str, str | None]:
    """Versions of Python and the packages that shape the numbers."""
    out = {"python": platform.python_version()}
    for pkg in ("escalation-sim", "mesa", "numpy", "scipy", "matplotlib", "pydantic", "SALib", "scoringrules"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part.

    The file gets the permissions an ordinary new file would (0666 less the umask), not the 0600
    of the temporary file it is renamed from.
    """
    path = Path(path)
    payload = data.encode() if isinstance(data, str) else data
    tmp = None
    try:  # the temporary file is made inside the try, so an interruption right after cannot leave it
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise


def replace_dir(out: Path, fill: Callable[[Path], object]):
    """Build a results directory with ``fill(tmp)`` beside ``out``, then put it in place of ``out``.

    Readers see the old directory whole or the new one whole (with a moment between the two
    renames when neither is there), never a mix of old and new files, and an interruption while
    filling leaves ``out`` as it was. Returns what ``fill`` returns.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp"))
    try:
        os.chmod(tmp, 0o777 & ~_umask())
        value = fill(tmp)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.", suffix=".old"))
            os.replace(out, old / out.name)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return value


def claim_dir(out: Path, kind: str, subdir: str, manifest: Callable[[], dict],
              refuse: Callable[[dict], str | None]) -> None:
    """Make ``out`` a results directory of ``kind`` (its ``manifest.json`` and folder ``subdir``), or
    refuse one that holds other results: ``refuse(theirs)`` says why its manifest is not this one's,
    or None; an unreadable manifest or a directory holding anything else is refused too."""
    path = out / "manifest.json"
    if path.exists():
        try:
            theirs = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"{path}: unreadable ({exc}); use another --out") from None
        why = refuse(theirs)
        if why is not None:
            raise InputError(f"{out}: {why}; they are not mixed with these: choose another --out, or delete the "
                             "directory")
        return
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out}: exists and is not {kind}; choose another --out")
    (out / subdir).mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(manifest(), indent=2, default=str) + "\n")
