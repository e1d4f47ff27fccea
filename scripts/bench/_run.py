"""What every benchmark does around its measurements: name the machine and the command,
and unwind cleanly on a signal (so servers stop and temp files go)."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit


def command_line() -> str:
    """This run's command, relative to here, with any database password hidden."""
    executable = Path(sys.executable)
    with contextlib.suppress(ValueError):
        executable = executable.relative_to(Path.cwd())
    args = []
    for arg in sys.argv:
        parts = urlsplit(arg)
        if parts.scheme.startswith("postgres") and parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            arg = urlunsplit(parts._replace(netloc=netloc))
        args.append(arg)
    return shlex.join([str(executable), *args])


def load() -> str:
    """The load average: these machines are shared, and a busy one skews every figure."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def stop_on_signals() -> None:
    """SIGTERM/SIGHUP unwind like Ctrl-C, so every ``finally`` (server, schema, files) runs."""

    def stop(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
