"""The pieces the real-agent suite runs: a real `aigw serve` in front of `FakeLLM` upstreams,
and the real Claude Code / Codex binaries pointed at it (or straight at a fake).

Everything listens on 127.0.0.1. Clients get a private HOME (and CODEX_HOME) under the
suite's scratch directory; see README.md for why that directory lives under `target/`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from fake_llm import FakeLLM

# A client run that takes longer than this is a hang: it is killed and its stderr printed.
CLIENT_TIMEOUT_S = float(os.environ.get("AGENTS_CLIENT_TIMEOUT_S", "30"))
HEALTH_TIMEOUT_S = 20.0

# Requests go to 127.0.0.1 only: never through a proxy from the environment.
_NO_PROXY = "127.0.0.1,localhost"


class Failure(AssertionError):
    pass


def check(cond: bool, what: str, detail: str = "") -> None:
    if not cond:
        raise Failure(what + (f"\n{detail}" if detail else ""))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env() -> dict[str, str]:
    """The environment minus anything that would steer a client or the gateway elsewhere."""
    drop = ("ANTHROPIC_", "OPENAI_", "CODEX_", "CLAUDE_", "AIGW_", "HTTP_PROXY", "HTTPS_PROXY",
            "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["NO_PROXY"] = env["no_proxy"] = _NO_PROXY
    env["NO_COLOR"] = "1"
    return env


@dataclass
class Run:
    """One finished client run."""

    argv: list[str]
    rc: int
    stdout: str
    stderr: str
    seconds: float

    def describe(self) -> str:
        return (f"$ {' '.join(self.argv[:3])} … (rc {self.rc}, {self.seconds:.1f} s)\n"
                f"--- stdout (tail) ---\n{self.stdout[-3000:]}\n"
                f"--- stderr (tail) ---\n{self.stderr[-3000:]}")


def run_client(argv: list[str], env: dict[str, str], cwd: Path,
               timeout: float = CLIENT_TIMEOUT_S) -> Run:
    t0 = time.monotonic()
    try:
        p = subprocess.run(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        run = Run(argv, -1, out, err, time.monotonic() - t0)
        raise Failure(f"client did not finish within {timeout:.0f} s (a hang)\n{run.describe()}")
    return Run(argv, p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


class Gateway:
    """`aigw serve` on a free port with a temp config and data dir."""

    def __init__(self, binary: Path, scratch: Path, config_body: str):
        self.port = free_port()
        self.dir = scratch / "aigw"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = self.dir / "aigw.toml"
        self.config.write_text(
            f'[server]\nlisten = "127.0.0.1:{self.port}"\nclient_keys = []\nshutdown_grace_s = 1\n\n'
            + config_body)
        self.log_path = self.dir / "aigw.log"
        env = base_env()
        env["AIGW_LOG"] = os.environ.get("AGENTS_AIGW_LOG", "info")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [str(binary), "serve", "--config", str(self.config), "--data-dir",
             str(self.dir / "data"), "--listen", f"127.0.0.1:{self.port}"],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, env=env)
        self._wait_healthy()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _wait_healthy(self) -> None:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        last = "no attempt"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Failure(f"aigw exited with {self.proc.returncode} before it was healthy:\n"
                              f"{self.log()}")
            try:
                with opener.open(f"{self.base}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
                    last = f"HTTP {r.status}"
            except (urllib.error.URLError, OSError) as e:
                last = str(e)
            time.sleep(0.1)
        raise Failure(f"aigw not healthy within {HEALTH_TIMEOUT_S} s ({last}):\n{self.log()}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


class Claude:
    """`claude -p` with a private HOME."""

    def __init__(self, binary: Path, scratch: Path):
        self.binary = binary
        self.home = scratch / "claude-home"
        self.home.mkdir(parents=True, exist_ok=True)

    def run(self, base_url: str, model: str, prompt: str, cwd: Path,
            timeout: float = CLIENT_TIMEOUT_S) -> tuple[Run, dict]:
        env = base_env()
        env.update({
            "HOME": str(self.home),
            "ANTHROPIC_BASE_URL": base_url,
            "ANTHROPIC_AUTH_TOKEN": "local-test-token",
            "ANTHROPIC_MODEL": model,
            "ANTHROPIC_DEFAULT_HAIKU_MODEL": model,
            "ANTHROPIC_DEFAULT_SONNET_MODEL": model,
            "ANTHROPIC_DEFAULT_OPUS_MODEL": model,
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "DISABLE_AUTOUPDATER": "1",
        })
        argv = [str(self.binary), "-p", prompt, "--output-format", "json",
                "--allowedTools", "Bash"]
        run = run_client(argv, env, cwd, timeout)
        try:
            out = json.loads(run.stdout)
        except ValueError:
            out = {}
        return run, out


class Codex:
    """`codex exec` with a private CODEX_HOME, provider settings as `-c` overrides."""

    def __init__(self, binary: Path, scratch: Path):
        self.binary = binary
        # Under target/, not /tmp: Codex refuses to set up its sandbox helpers under a
        # temporary directory (see README.md).
        self.home = scratch / "codex-home"
        self.home.mkdir(parents=True, exist_ok=True)

    def run(self, base_url: str, model: str, prompt: str, cwd: Path, websockets: bool = False,
            timeout: float = CLIENT_TIMEOUT_S) -> tuple[Run, str]:
        env = base_env()
        env.update({"HOME": str(self.home), "CODEX_HOME": str(self.home)})
        last = cwd / "codex-last-message.txt"
        last.unlink(missing_ok=True)
        overrides = {
            "model_provider": '"aigw"',
            "model_providers.aigw.name": '"aigw"',
            "model_providers.aigw.base_url": json.dumps(base_url),
            "model_providers.aigw.wire_api": '"responses"',
            "model_providers.aigw.experimental_bearer_token": '"local-test-token"',
            "model_providers.aigw.supports_websockets": "true" if websockets else "false",
        }
        argv = [str(self.binary), "exec", "--skip-git-repo-check", "--sandbox", "read-only",
                "-m", model, "-o", str(last)]
        for k, v in overrides.items():
            argv += ["-c", f"{k}={v}"]
        argv.append(prompt)
        run = run_client(argv, env, cwd, timeout)
        answer = last.read_text() if last.exists() else ""
        return run, answer


class GeminiCli:
    """`gemini -p` with a private HOME whose `~/.gemini/.env` and `settings.json` are what
    `aigw clients connect gemini-cli` writes."""

    def __init__(self, binary: Path, scratch: Path):
        self.binary = binary
        self.home = scratch / "gemini-home"
        (self.home / ".gemini").mkdir(parents=True, exist_ok=True)

    def run(self, base_url: str, model: str, prompt: str, cwd: Path,
            timeout: float = CLIENT_TIMEOUT_S) -> tuple[Run, dict]:
        (self.home / ".gemini" / ".env").write_text(
            f"GOOGLE_GEMINI_BASE_URL={base_url}\nGEMINI_API_KEY=local-test-token\n"
            f"GEMINI_MODEL={model}\n")
        (self.home / ".gemini" / "settings.json").write_text(
            '{"security": {"auth": {"selectedType": "gemini-api-key"}}}\n')
        env = base_env()
        env["HOME"] = str(self.home)
        argv = [str(self.binary), "--skip-trust", "--yolo", "--output-format", "json",
                "-p", prompt]
        run = run_client(argv, env, cwd, timeout)
        try:
            out = json.loads(run.stdout)
        except ValueError:
            out = {}
        return run, out


def make_workdir(scratch: Path, name: str, token: str) -> tuple[Path, Path]:
    """A fresh working directory with `note.txt` holding `token` on its first line."""
    d = scratch / "work" / name
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True)
    note = d / "note.txt"
    note.write_text(f"{token}\nthe second line\n")
    return d, note


def fakes(*names: str) -> dict[str, FakeLLM]:
    return {n: FakeLLM(n) for n in names}
