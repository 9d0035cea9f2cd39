"""`Progbar`: Keras 3's progress bar, as `fit` prints it.

    Epoch 1/10
    12/50 ━━━━━━━━━━━━━━━━━━━━ 1s 20ms/step - accuracy: 0.8125 - loss: 0.5034

verbose=1 rewrites that line in place (with "\\r") on a terminal, and prints a new line per
update elsewhere (at most one per `interval` seconds; the last step's once); verbose=2
prints one line when done ("50/50 - 1s - 20ms/step - accuracy: ... - loss: ...");
verbose=0 prints nothing.  Before the end the time shown is the estimated time left, at the
end the time taken.  On a terminal the bar is coloured as Keras's (the part done green);
the remaining part is drawn "─" so that it shows without colours too.
"""

from __future__ import annotations

import math
import re
import sys
import time
from collections.abc import Iterable
from typing import Any


def resolve_verbose(verbose: Any) -> int:
    """verbose "auto": 1 on a terminal (a live bar), 2 otherwise (one line per epoch)."""
    if verbose == "auto":
        return 1 if _is_terminal() else 2
    return int(verbose)


def _is_terminal() -> bool:
    return hasattr(sys.stdout, "isatty") and sys.stdout.isatty()


class Progbar:
    """A progress bar to `target` steps (None: unknown) with running values.

    Args:
        target: the number of steps, None if unknown.
        width: characters of the bar.
        verbose: 0 silent, 1 a live bar, 2 one line at the end.
        interval: the least seconds between two updates of a live bar.
        stateful_metrics: names of values shown as given (already averaged); the others are
            averaged over the steps.
        unit_name: what a step is called ("step" -> "20ms/step").
    """

    def __init__(
        self,
        target: int | None,
        width: int = 20,
        verbose: int = 1,
        interval: float = 0.05,
        stateful_metrics: Iterable[str] | None = None,
        unit_name: str = "step",
    ):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.stateful_metrics = set(stateful_metrics or ())
        self.unit_name = unit_name
        self._dynamic_display = _is_terminal()
        self._values: dict[str, list[float]] = {}  # name -> [weighted sum, count]
        self._seen_so_far = 0
        self._start = time.monotonic()
        self._last_update = 0.0
        self._time_after_first_step: float | None = None
        self._prev_width = 0

    def update(
        self, current: int, values: Iterable[tuple[str, Any]] | None = None, finalize=None
    ) -> None:
        """Show `current` steps done, with `values` [(name, value)] of the last step(s)."""
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or ():
            value = float(value)
            if name in self.stateful_metrics:
                self._values[name] = [value, 1]
            else:  # NOTE: a value stands for every step since the last update
                steps = max(current - self._seen_so_far, 1)
                total, count = self._values.get(name, [0.0, 0])
                self._values[name] = [total + value * steps, count + steps]
        self._seen_so_far = current
        now = time.monotonic()
        per_step = self._step_time(current, now)
        # NOTE: without a terminal, the last step's line waits for the final one
        due = now - self._last_update >= self.interval and (
            self._dynamic_display or self.target is None or current < self.target
        )
        if self.verbose == 1 and (finalize or due):
            self._show_bar(current, now, per_step, finalize)
            self._last_update = now
        elif self.verbose == 2 and finalize:
            count = f"{current:{_digits(self.target or current)}d}/{self.target or current}"
            _write(f"{count} - {now - self._start:.0f}s -{_per_step(per_step, self.unit_name)}")
            _write(self._values_text() + "\n")

    def add(self, n: int, values: Iterable[tuple[str, Any]] | None = None) -> None:
        """Advance by `n` steps."""
        self.update(self._seen_so_far + n, values)

    def _show_bar(self, current: int, now: float, per_step: float, finalize: bool) -> None:
        color = self._dynamic_display
        if self.target is not None:
            count = f"{current:{_digits(self.target)}d}/{self.target}"
            done = int(self.width * min(current / self.target, 1.0))
            bar = _style(count, "1", color) + " "
            bar += _style("━" * done, "32", color) + _style("─" * (self.width - done), "37", color)
            visible = len(count) + 1 + self.width
        else:
            bar = f"{current:7d}/Unknown"
            visible = len(bar)
        if self.target is not None and not finalize:
            seconds = _duration(per_step * (self.target - current))  # time left
        else:
            seconds = f"{now - self._start:.0f}s"  # time taken
        info = " " + _style(seconds, "1", color) + _per_step(per_step, self.unit_name)
        info += self._values_text()
        visible += len(_plain(info))
        if not self._dynamic_display:
            _write(bar + info + "\n")
            return
        padding = " " * max(self._prev_width - visible, 0)  # covers a longer previous line
        self._prev_width = visible
        _write("\r" + bar + info + padding + ("\n" if finalize else ""))

    def _values_text(self) -> str:
        parts = []
        for name, (total, count) in self._values.items():
            mean = total / max(count, 1)
            parts.append(f" - {name}: {mean:.4f}" if abs(mean) > 1e-3 else f" - {name}: {mean:.4e}")
        return "".join(parts)

    def _step_time(self, current: int, now: float) -> float:
        """Seconds per step, leaving out the first step (which traces) once there are more."""
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            per_step = (now - self._time_after_first_step) / (current - 1)
        else:
            per_step = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return per_step


def _digits(n: int) -> int:
    return int(math.log10(max(n, 1))) + 1


def _duration(seconds: float) -> str:
    if seconds > 3600:
        return f"{seconds // 3600:.0f}:{(seconds % 3600) // 60:02.0f}:{seconds % 60:02.0f}"
    if seconds > 60:
        return f"{seconds // 60:.0f}:{seconds % 60:02.0f}"
    return f"{seconds:.0f}s"


def _per_step(seconds: float, unit: str) -> str:
    if seconds >= 1 or seconds == 0:
        return f" {seconds:.0f}s/{unit}"
    if seconds >= 1e-3:
        return f" {seconds * 1e3:.0f}ms/{unit}"
    return f" {seconds * 1e6:.0f}us/{unit}"


def _style(text: str, code: str, on: bool) -> str:
    """`text` in an ANSI style (1 bold, 32 green, 37 grey) when `on`."""
    return f"\x1b[{code}m{text}\x1b[0m" if on and text else text


def _plain(text: str) -> str:
    return re.sub(r"\x1b\[\d+m", "", text)


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()
