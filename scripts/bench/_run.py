"""What every benchmark does around its measurements: name the machine and the command,
unwind cleanly on a signal (so servers stop and temp files go), and serve ``tenure serve``
in a process of its own."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx


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


SERVER_START_SECONDS = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _die_with_parent() -> None:
    """In the child: SIGTERM when the benchmark dies, even by SIGKILL (Linux only)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _tenure_command() -> list[str]:
    script = Path(sys.executable).parent / "tenure"
    return [str(script), "serve"] if script.exists() else [sys.executable, "-m", "app.cli", "serve"]


class Server:
    """``tenure serve`` in its own process (its own GIL), stopped on every exit path."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._log_path = workdir / "server.log"
        self._env = {k: v for k, v in os.environ.items() if not k.startswith("TENURE_")}
        self._env |= env | {
            "TENURE_HOST": "127.0.0.1",
            "TENURE_PORT": str(self.port),
            "TENURE_LOG_LEVEL": "warning",
        }
        self._workdir = workdir
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Server:
        log = self._log_path.open("wb")
        self._process = subprocess.Popen(
            _tenure_command(),
            env=self._env,
            cwd=self._workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        log.close()
        deadline = time.monotonic() + SERVER_START_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the server exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"the server was not ready in {SERVER_START_SECONDS}s:\n{self.log_tail()}"
        )

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"


def wait_until_ready(
    process: subprocess.Popen[bytes], url: str, headers: dict[str, str] | None = None
) -> None:
    """Until ``url`` answers 200, or the process exits, or SERVER_START_SECONDS pass."""
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args} exited early")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, headers=headers, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"{url} did not answer in {SERVER_START_SECONDS}s")
