"""Progress bars on stderr for long work (sampling, the class guide's fit, bank pruning, `evaluate`).

One rule everywhere: ``enabled=None`` shows the bar only when stderr is a terminal, so logs and
captured output stay clean; True or False forces it.
"""

from __future__ import annotations

import sys

__all__: list[str] = []


def progress_bar(total: int, *, desc: str, unit: str, enabled: bool | None):
    """A tqdm bar of `total` steps on `sys.stderr` (None: when stderr is a terminal)."""
    from tqdm.auto import tqdm

    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(total=total, unit=unit, desc=desc, disable=not enabled, file=sys.stderr)
