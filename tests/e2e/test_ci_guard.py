"""With CI=true an unreachable PostgreSQL fails the run instead of skipping its tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pytest(env_overrides: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **env_overrides}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "tests/unit/test_small.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ci_fails_without_postgres() -> None:
    result = _pytest({"CI": "true", "TENURE_TEST_POSTGRES_URL": "postgresql://x@127.0.0.1:1/none"})
    assert result.returncode != 0
    assert "PostgreSQL does not answer" in result.stdout + result.stderr


def test_outside_ci_postgres_tests_are_skipped_instead() -> None:
    result = _pytest({"CI": "false", "TENURE_TEST_POSTGRES_URL": "postgresql://x@127.0.0.1:1/none"})
    assert result.returncode == 0, result.stdout
