"""Progress that suits where it goes, for every long stage (training, search, lr-find, ...).

On a terminal a tqdm bar (when tqdm is installed); in a log (the stream is not a
terminal) a few one-line updates with the rate and the time left, so a piped run is
neither silent nor one line per step:

- `Progress(total, desc)`: `update()` per step; in a log at most about `lines` evenly
  spaced lines, one at least every `every_s` seconds, always the first and the last;
- `Stages(total, desc)`: named stages of known count (the arms of a comparison, the
  trials of a search): a line when each starts and one when it ends, with its result,
  its time and the estimated time left (the mean time per finished stage times the
  stages left).

`ProgressBar` (the `fit` callback in `callbacks.py`) uses the same cadence (`Cadence`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["Cadence", "Progress", "Stages", "eta_text", "is_tty", "quiet"]

_QUIET = False  # set by `quiet()`: Progress and Stages built meanwhile print nothing


@contextmanager
def quiet(on: bool = True) -> Iterator[None]:
    """While active, `Progress` and `Stages` (not given `enabled`) print nothing: the CLI's
    `--quiet` for code that reports progress deep inside (a recipe's arms and steps)."""
    global _QUIET
    before, _QUIET = _QUIET, bool(on) or _QUIET
    try:
        yield
    finally:
        _QUIET = before


def is_tty(stream: Any = None) -> bool:
    """Whether `stream` (default stdout) is a terminal."""
    stream = stream or sys.stdout
    return bool(getattr(stream, "isatty", lambda: False)())


def eta_text(seconds: float) -> str:
    """`ETA 42s`, `ETA 3m05s`, `ETA 1h02m`: the time left, rounded to what matters."""
    s = max(0, round(seconds))
    if s < 60:
        return f"ETA {s}s"
    if s < 3600:
        return f"ETA {s // 60}m{s % 60:02d}s"
    return f"ETA {s // 3600}h{s % 3600 // 60:02d}m"


class Cadence:
    """When a log line is due: the first and last of `total` units, about `lines` evenly
    spaced ones between, and one at least every `every_s` seconds.

    `rate`/`eta` measure units per second since `start(first)`."""

    def __init__(self, total: int, lines: int = 12, every_s: float = 30.0) -> None:
        self.total, self.lines, self.every_s = int(total), int(lines), float(every_s)
        self.first, self.begin, self.last = 0, time.monotonic(), time.monotonic()

    def start(self, first: int = 0) -> None:
        """Start the clock at unit index `first` (a resumed run starts past 0)."""
        self.first, self.begin = first, time.monotonic()
        self.last = self.begin

    def due(self, index: int, now: float | None = None) -> bool:
        """Whether unit `index` (0-based, just finished) deserves a log line."""
        now = time.monotonic() if now is None else now
        stride = max(1, -(-self.total // max(1, self.lines)))
        return (index == self.first or index + 1 >= self.total or (index + 1) % stride == 0
                or now - self.last >= self.every_s)  # fmt: skip

    def rate_and_eta(self, index: int, now: float | None = None) -> tuple[float, float]:
        """(units per second so far, seconds left) after unit `index`; marks a line written."""
        now = time.monotonic() if now is None else now
        done = index + 1 - self.first
        rate = done / max(now - self.begin, 1e-9)
        left = (self.total - index - 1) / rate if rate > 0 else 0.0
        self.last = now
        return rate, left


class Progress:
    """Progress over `total` steps: a tqdm bar on a terminal, sparse lines in a log.

    A log line reads `lr-find: 40/100 steps - loss 2.31 - 12.5 steps/s - ETA 5s`;
    `update(**info)` supplies the fields after the count (numbers shown with 4
    significant digits).  `enabled=False` prints nothing (default: on unless `quiet()`).
    """

    def __init__(self, total: int, desc: str, unit: str = "step", stream: Any = None,
                 lines: int = 12, every_s: float = 30.0, enabled: bool | None = None) -> None:  # fmt: skip
        self.total, self.desc, self.unit, self.stream = int(total), desc, unit, stream
        self.enabled = (not _QUIET) if enabled is None else enabled
        self.done = 0
        self.cadence = Cadence(self.total, lines, every_s)
        self._bar = None
        if self.enabled and is_tty(stream):
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(total=self.total, desc=desc, unit=unit, leave=False)

    def update(self, n: int = 1, **info: Any) -> None:
        """`n` more steps done; `info` (e.g. loss=2.3) is shown with them."""
        if not self.enabled:
            return
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            if info:
                self._bar.set_postfix({k: _fmt(v) for k, v in info.items()}, refresh=False)
            return
        stride = max(1, -(-self.total // max(1, self.cadence.lines)))
        crossed = self.done // stride > (self.done - n) // stride  # updates of many steps
        if not (crossed or self.done == n or self.cadence.due(self.done - 1)):
            return
        rate, left = self.cadence.rate_and_eta(self.done - 1)
        parts = [f"{self.desc}: {self.done}/{self.total} {self.unit}s"]
        parts += [f"{k.replace('_', ' ')} {_fmt(v)}" for k, v in info.items()]
        parts += [f"{rate:.3g} {self.unit}s/s", eta_text(left)]
        print(" - ".join(parts), file=self.stream or sys.stdout, flush=True)

    def close(self) -> None:
        """Close the bar (on a terminal); idempotent."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> Progress:  # noqa: PYI034 (Python 3.10 has no typing.Self)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Stages:
    """A known number of named stages, each announced when it starts and when it ends.

    >>> import io
    >>> out = io.StringIO()
    >>> stages = Stages(2, "init-compare", stream=out)
    >>> with stages.stage("tanh zeros") as s:
    ...     s.result = "val acc 0.33"
    >>> out.getvalue().splitlines()[0]
    'init-compare [1/2] tanh zeros ...'
    """

    class _Stage:
        result: str = ""

    def __init__(self, total: int, desc: str, stream: Any = None,
                 enabled: bool | None = None) -> None:  # fmt: skip
        self.total, self.desc, self.stream = int(total), desc, stream
        self.enabled = (not _QUIET) if enabled is None else enabled
        self.index, self.begin = 0, time.monotonic()

    def _print(self, text: str) -> None:
        if self.enabled:
            print(text, file=self.stream or sys.stdout, flush=True)

    def start(self, name: str) -> None:
        """Announce the next stage, `name` (`end` closes it)."""
        self.index += 1
        self._head = f"{self.desc} [{self.index}/{self.total}] {name}"
        self._start = time.monotonic()
        self._print(f"{self._head} ...")

    def end(self, result: str = "") -> None:
        """Close the stage `start` opened: its result, its time and the ETA of the rest."""
        k, now = self.index, time.monotonic()
        left = (now - self.begin) / k * max(0, self.total - k)
        tail = f"{now - self._start:.1f}s" + (f", {eta_text(left)}" if k < self.total else "")
        self._print(f"{self._head}: {result or 'done'} ({tail})")

    @contextmanager
    def stage(self, name: str) -> Iterator[Stages._Stage]:
        """Announce stage `name`, run the block, then print its `result` (set on the object
        the block receives), its time and the ETA of the stages left."""
        self.start(name)
        stage = Stages._Stage()
        yield stage
        self.end(stage.result)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
