"""The benchmarks still run (tiny sizes; their figures are for the README, not for tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*argv: str) -> str:
    result = subprocess.run(
        [sys.executable, *argv], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_query_benchmark_runs_end_to_end() -> None:
    out = _run(
        "scripts/bench/query.py",
        "--users",
        "5000",
        "--groups",
        "100",
        "--requests",
        "3",
        "--patches",
        "1",
    )
    for scenario in ("Users?filter=userName eq", "PATCH Group +1000 members", "Users?cursor="):
        assert scenario in out


def test_policy_benchmark_runs() -> None:
    out = _run("scripts/bench/policy.py", "--decisions", "140", "--requests", "20", "--rounds", "2")
    assert "one decision, 140 in process" in out and "< 200 µs" in out
    assert "POST /Agents, policies off (20)" in out and "policies' share of POST /Agents" in out


def test_sweep_benchmark_runs() -> None:
    out = _run("scripts/bench/sweep.py", "--burst", "50", "--spread", "20", "--seconds", "2")
    assert "50 ending at once: last suspended after" in out
    assert "| 20 ending over 2 s: suspended | 20 | all | |" in out and "lateness p99" in out


def test_reports_benchmark_runs() -> None:
    out = _run(
        "scripts/bench/reports.py", "--identities", "300", "--owners", "20", "--events", "2000",
        "--requests", "5",
    )  # fmt: skip
    assert "`GET /reports/ownership?owner=…` median (5 owners)" in out
    assert "ownership CSV:" in out and "rows/s" in out and "RssAnon" in out
    assert "`GET /audit/verify` over 2,000 events (ok=True)" in out


def test_http_benchmark_runs_against_the_peer() -> None:
    out = _run(
        "scripts/bench/http.py", "--users", "60", "--grow", "120", "--requests", "40",
        "--connections", "4", "--wide", "10",
    )  # fmt: skip
    for mode in ("POST /Users, 0 → 60", "GET /Users/{id}", "GET /Users?filter=userName eq",
                 "PATCH /Users/{id} (replace active)", "GET /Users/{id} at 120"):  # fmt: skip
        assert f"| {mode} |" in out, out
    assert "filter at 120 / at 60 (Tenure)" in out and "RSS after the run" in out
    assert "Tenure, GET by id over 10 connections" in out
    assert "Tenure, PATCH over 10 connections" in out and "own " in out
