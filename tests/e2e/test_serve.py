"""./scripts/run as the README shows it: a real server process on a real port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited early"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError(f"{url} did not answer within {seconds}s")


def test_scripts_run_serves_scim_and_stops_gracefully(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "TENURE_DATABASE_URL": f"sqlite:///{tmp_path}/tenure.db",
        "TENURE_SECRET_KEY_FILE": str(tmp_path / "secret"),
        "TENURE_PORT": str(port),
    }
    stderr_path = tmp_path / "stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [str(ROOT / "scripts" / "run")], cwd=tmp_path, env=env, stderr=stderr, stdout=stderr
        )
        try:
            _wait_for(f"http://127.0.0.1:{port}/readyz", process)
            output = stderr_path.read_text()
            assert f"SCIM base URL: http://127.0.0.1:{port}/scim/v2" in output
            token = output.split("Admin token (shown once; keep it): ")[1].split()[0]
            auth = {"Authorization": f"Bearer {token}"}
            base = f"http://127.0.0.1:{port}/scim/v2"
            created = httpx.post(
                f"{base}/Users",
                content=b'{"userName": "real-http", "password": "hunter2-hunter2"}',
                headers={**auth, "Content-Type": "application/scim+json"},
            )
            assert created.status_code == 201, created.text
            assert created.headers["content-type"].startswith("application/scim+json")
            assert "server" not in created.headers
            fetched = httpx.get(created.headers["location"], headers=auth)
            assert fetched.json()["userName"] == "real-http"
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=30)
    # uvicorn drains in-flight requests and runs the shutdown hooks, then re-raises
    # SIGTERM so that the exit status tells a supervisor why it stopped.
    assert code in (0, -signal.SIGTERM)
    output = stderr_path.read_text()
    messages = [json.loads(line)["msg"] for line in output.splitlines() if line.startswith("{")]
    assert "Application shutdown complete." in messages
    assert output.count(token.split(".")[1]) == 1  # printed once at first start, never logged
    assert "hunter2-hunter2" not in output
    access = [
        json.loads(line)
        for line in output.splitlines()
        if line.startswith("{") and '"tenure.access"' in line
    ]
    assert any(e["path"] == "/scim/v2/Users" and e["status"] == 201 for e in access)
    assert all("request_id" in e for e in access)


def test_a_second_start_prints_no_new_token(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "TENURE_DATABASE_URL": f"sqlite:///{tmp_path}/tenure.db",
        "TENURE_SECRET_KEY_FILE": str(tmp_path / "secret"),
    }
    tenure = str(ROOT / ".venv" / "bin" / "tenure")
    subprocess.run([tenure, "migrate"], env=env, check=True, capture_output=True)
    first = subprocess.run([tenure, "demo"], env=env, check=True, capture_output=True, text=True)
    second = subprocess.run([tenure, "demo"], env=env, check=True, capture_output=True, text=True)
    assert "Admin token" in first.stderr
    assert second.stderr == "" and second.stdout == ""


def test_sighup_reloads_policies_and_keeps_the_old_set_if_the_new_one_is_invalid(
    tmp_path: Path,
) -> None:
    import shutil

    from app.config import data_dir

    policies = tmp_path / "policies"
    shutil.copytree(data_dir("policies"), policies)
    port = _free_port()
    env = {
        **os.environ,
        "TENURE_DATABASE_URL": f"sqlite:///{tmp_path}/tenure.db",
        "TENURE_SECRET_KEY_FILE": str(tmp_path / "secret"),
        "TENURE_PORT": str(port),
        "TENURE_POLICIES_DIR": str(policies),
    }
    log_path = tmp_path / "log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(ROOT / "scripts" / "run")], cwd=tmp_path, env=env, stderr=log, stdout=log
        )
        try:
            _wait_for(f"http://127.0.0.1:{port}/readyz", process)
            token = log_path.read_text().split("Admin token (shown once; keep it): ")[1].split()[0]
            auth = {"Authorization": f"Bearer {token}"}

            def ids() -> list[str]:
                listed = httpx.get(f"http://127.0.0.1:{port}/admin/policies", headers=auth)
                return [p["id"] for p in listed.json()["items"]]

            before = ids()
            (policies / "freeze.cedar").write_text(
                '@id("ops.freeze")\n@reason("change freeze")\n'
                "forbid (principal, action, resource);\n"
            )
            process.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 20
            while "ops.freeze" not in ids():
                assert time.monotonic() < deadline, "SIGHUP did not reload the policies"
                time.sleep(0.2)
            assert len(ids()) == len(before) + 1
            (policies / "broken.cedar").write_text("forbid (principal, action, resource")
            process.send_signal(signal.SIGHUP)
            deadline = time.monotonic() + 20
            while "policies not reloaded" not in log_path.read_text():
                assert time.monotonic() < deadline, "the failed reload was not logged"
                time.sleep(0.2)
            assert "ops.freeze" in ids() and process.poll() is None
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def test_serving_beyond_this_machine_without_a_public_url_warns_and_links_avoid_the_bind(
    tmp_path: Path,
) -> None:
    """The Dockerfile binds 0.0.0.0: the first start's output and every link must not say
    it, and ``serve`` tells the operator which URL its links assume."""
    port = _free_port()
    env = {
        **os.environ,
        "TENURE_DATABASE_URL": f"sqlite:///{tmp_path}/tenure.db",
        "TENURE_SECRET_KEY_FILE": str(tmp_path / "secret"),
        "TENURE_HOST": "0.0.0.0",
        "TENURE_PORT": str(port),
    }
    env.pop("TENURE_PUBLIC_URL", None)
    tenure = str(ROOT / ".venv" / "bin" / "tenure")
    subprocess.run([tenure, "migrate"], env=env, check=True, capture_output=True)
    demo = subprocess.run([tenure, "demo"], env=env, check=True, capture_output=True, text=True)
    assumed = f"http://{socket.gethostname()}:{port}"
    assert f"SCIM base URL: {assumed}/scim/v2" in demo.stderr
    assert "0.0.0.0" not in demo.stderr + demo.stdout
    stderr_path = tmp_path / "stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen([tenure, "serve"], env=env, stderr=stderr, stdout=stderr)
        try:
            _wait_for(f"http://127.0.0.1:{port}/readyz", process)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    lines = [
        json.loads(line) for line in stderr_path.read_text().splitlines() if line.startswith("{")
    ]
    (warning,) = [e for e in lines if e["msg"].startswith("TENURE_PUBLIC_URL is not set")]
    assert warning["level"] == "warning" and assumed in warning["msg"]
