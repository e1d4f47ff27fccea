#!/usr/bin/env python3
"""Cedar decision cost with the shipped policy set, in process (the issue's < 200 µs median).

    .venv/bin/python scripts/bench/policy.py [--decisions N]

Prints the median, p95 and p99 of one ``PolicyEngine.decide`` call (entity
building included) for a mix of allowed and denied writes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.config import data_dir
from app.domain.actor import Actor, Role
from app.policy.engine import PolicyEngine
from app.policy.entities import Subject


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=20_000)
    args = parser.parse_args()
    engine = PolicyEngine.load(data_dir("policies"))
    now = dt.datetime.now(dt.UTC)
    cases = [
        (Role.IDP, "create", "User"),
        (Role.PLATFORM, "update", "Agent"),
        (Role.AUDITOR, "delete", "Agent"),  # denied: no permit
        (Role.ADMIN, "update", "ServiceAccount"),
    ]
    actors = {
        role: Actor(token_id="bench", name="bench", roles=frozenset({role}), tenant_id="t")
        for role, _, _ in cases
    }
    for _ in range(500):  # warm up
        for role, action, kind in cases:
            engine.decide(
                actors[role],
                action,
                Subject(resource_type=kind, resource_id="r", tenant_id="t"),
                now,
            )
    gc.freeze()
    samples = []
    for i in range(args.decisions):
        role, action, kind = cases[i % len(cases)]
        subject = Subject(resource_type=kind, resource_id=f"r{i}", tenant_id="t")
        started = time.perf_counter()
        engine.decide(actors[role], action, subject, now)
        samples.append((time.perf_counter() - started) * 1e6)
    samples.sort()
    median = statistics.median(samples)
    p95 = samples[int(len(samples) * 0.95)]
    p99 = samples[int(len(samples) * 0.99)]
    print(f"- command: `.venv/bin/python scripts/bench/policy.py --decisions {args.decisions}`")
    print(f"- python {platform.python_version()}, nproc {os.cpu_count()}")
    print("| decisions | median µs | p95 µs | p99 µs | target | result |")
    print("| ---: | ---: | ---: | ---: | ---: | --- |")
    verdict = "PASS" if median < 200 else "FAIL"
    print(f"| {len(samples)} | {median:.1f} | {p95:.1f} | {p99:.1f} | < 200 µs | {verdict} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
