"""Fixtures for the OpenAI Python SDK suite: a `fake-upstream` process and an `aigw` in front of it.

The binaries are not built here. Build them first from the workspace root:

    cargo build -p gateway-core --bin aigw -p testkit --bins

and they are taken from target/debug/ (override with AIGW_BIN / FAKE_UPSTREAM_BIN).
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import openai
import pytest

ROOT = Path(__file__).resolve().parents[2]

# The route under test: `primary` always answers 429 (Retry-After: 30), `backup` answers like
# OpenAI (tool calls when the request has tools) under a rewritten model name.
ROUTE_MODEL = "gpt-4o-mini"
BACKUP_MODEL = "llama-3.1-8b"
PRIMARY_BEHAVIOR = "status:429:30"
BACKUP_BEHAVIOR = "auto"

HEALTH_TIMEOUT_S = 20.0
FAKE_START_TIMEOUT_S = 10.0

# Requests go to 127.0.0.1; never let an HTTP(S)_PROXY from the environment intercept them.
os.environ["NO_PROXY"] = ",".join(
    x for x in (os.environ.get("NO_PROXY", ""), "127.0.0.1", "localhost") if x
)
os.environ["no_proxy"] = os.environ["NO_PROXY"]


def _binary(env_var: str, name: str) -> Path:
    override = os.environ.get(env_var)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    path = Path(override) if override else target / "debug" / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        how = f"${env_var}={override}" if override else f"{path} (override with ${env_var})"
        # Stop the whole session with one clear message instead of an error per test.
        pytest.exit(
            f"binary `{name}` not found at {how}.\n"
            "Build it first from the workspace root:\n"
            "    cargo build -p gateway-core --bin aigw -p testkit --bins",
            returncode=2,
        )
    return path


def _child_env() -> dict[str, str]:
    """The environment for child processes, without AIGW_* settings that would override flags."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIGW_")}
    env["AIGW_LOG"] = os.environ.get("AIGW_TEST_LOG", "info")
    env["NO_COLOR"] = "1"  # logs go to a file that failure messages quote
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


@dataclass
class FakeUpstreams:
    """A running `fake-upstream` process: its base URLs, and request dumps on demand."""

    proc: subprocess.Popen
    stderr_path: Path
    urls: dict[str, str] = field(default_factory=dict)

    def _read_line(self, timeout: float) -> dict:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else b""
        if not line:
            self.proc.poll()
            raise RuntimeError(
                f"fake-upstream gave no output within {timeout}s "
                f"(exit code {self.proc.returncode}); stderr:\n{self.stderr_path.read_text()}"
            )
        return json.loads(line)

    def dump(self) -> dict[str, list[dict]]:
        """Every request each upstream received so far: {"NAME": [{"method","path","model"}, ...]}."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"dump\n")
        self.proc.stdin.flush()
        return self._read_line(timeout=10.0)

    def close(self) -> None:
        # The process exits when its stdin closes; fall back to signals.
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _stop(self.proc)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


@dataclass
class Gateway:
    proc: subprocess.Popen
    port: int
    config_path: Path
    stderr_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


@pytest.fixture(scope="session")
def fake_upstreams(tmp_path_factory: pytest.TempPathFactory):
    binary = _binary("FAKE_UPSTREAM_BIN", "fake-upstream")
    tmp = tmp_path_factory.mktemp("fake-upstream")
    stderr_path = tmp / "fake-upstream.stderr"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            [
                str(binary),
                "--upstream",
                f"primary={PRIMARY_BEHAVIOR}",
                "--upstream",
                f"backup={BACKUP_BEHAVIOR}",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=_child_env(),
            bufsize=0,
        )
    fake = FakeUpstreams(proc=proc, stderr_path=stderr_path)
    try:
        fake.urls = fake._read_line(timeout=FAKE_START_TIMEOUT_S)
        assert set(fake.urls) == {"primary", "backup"}, fake.urls
        yield fake
    finally:
        fake.close()


def _config_toml(port: int, urls: dict[str, str]) -> str:
    q = json.dumps  # a JSON string is a valid TOML basic string for these values
    return f"""\
[server]
listen = {q(f"127.0.0.1:{port}")}
client_keys = []
shutdown_grace_s = 2

[routing]

[[providers]]
name = "primary"
kind = "openai"
base_url = {q(urls["primary"])}
timeout_s = 30

[[providers]]
name = "backup"
kind = "openai"
base_url = {q(urls["backup"])}
timeout_s = 30

[[routes]]
model = {q(ROUTE_MODEL)}
[[routes.targets]]
provider = "primary"
[[routes.targets]]
provider = "backup"
model = {q(BACKUP_MODEL)}

[limits]
ingress_rpm = 0
"""


@pytest.fixture(scope="session")
def gateway(fake_upstreams: FakeUpstreams, tmp_path_factory: pytest.TempPathFactory):
    binary = _binary("AIGW_BIN", "aigw")
    tmp = tmp_path_factory.mktemp("aigw")
    port = _free_port()
    config_path = tmp / "aigw.toml"
    config_path.write_text(_config_toml(port, fake_upstreams.urls))
    stderr_path = tmp / "aigw.stderr"
    with open(stderr_path, "wb") as stderr:
        proc = subprocess.Popen(
            [
                str(binary),
                "serve",
                "--config",
                str(config_path),
                "--data-dir",
                str(tmp / "data"),
                "--listen",
                f"127.0.0.1:{port}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            env=_child_env(),
        )
    gw = Gateway(proc=proc, port=port, config_path=config_path, stderr_path=stderr_path)
    try:
        _wait_healthy(gw)
        yield gw
    finally:
        _stop(proc)


def _wait_healthy(gw: Gateway) -> None:
    url = f"http://127.0.0.1:{gw.port}/healthz"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + HEALTH_TIMEOUT_S
    last = "no attempt"
    while time.monotonic() < deadline:
        if gw.proc.poll() is not None:
            pytest.fail(
                f"aigw exited with code {gw.proc.returncode} before becoming healthy; "
                f"output:\n{gw.stderr()}\nconfig:\n{gw.config_path.read_text()}",
                pytrace=False,
            )
        try:
            with opener.open(url, timeout=2) as resp:
                if resp.status == 200:
                    return
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as e:
            last = f"HTTP {e.code}"
        except (urllib.error.URLError, OSError) as e:
            last = str(e)
        time.sleep(0.1)
    pytest.fail(
        f"aigw did not answer 200 on {url} within {HEALTH_TIMEOUT_S}s (last: {last}); "
        f"output:\n{gw.stderr()}",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def client(gateway: Gateway):
    # max_retries=0: the SDK must not paper over a failed fallback by retrying on its own.
    with openai.OpenAI(
        base_url=gateway.base_url,
        api_key="sk-local-unused",
        max_retries=0,
        timeout=30.0,
    ) as c:
        yield c
