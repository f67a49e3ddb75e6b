"""The real Claude Code and Codex CLI through a real `aigw serve` (see README.md).

    python3 tests/agents/agents.py --aigw target/debug/aigw --claude PATH --codex PATH
        [--gemini PATH] [--only SUBSTRING] [--measure] [--keep]

Every scenario asserts the client's final answer and what the fake upstream received.
`--measure` also times one agent turn direct vs through aigw (median of 3 each), the
broken-stream variants and Codex's WebSocket attempt, and prints the numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
import traceback
from pathlib import Path

from harness import Claude, Codex, Failure, Gateway, GeminiCli, check, fakes, make_workdir

# The broken-stream regression bound: only a hang guard (direct is about a second).
BROKEN_STREAM_BOUND_S = 30.0
# How long a broken-stream client run may take before it is killed (raise it to measure a spin).
BROKEN_TIMEOUT_S = float(os.environ.get("AGENTS_BROKEN_TIMEOUT_S", BROKEN_STREAM_BOUND_S + 5))

UPSTREAMS = ("anth", "anth_down", "oai", "oai_busy", "broken")


def gateway_config(f) -> str:
    def provider(name: str, kind: str) -> str:
        return (f'[[providers]]\nname = "{name}"\nkind = "{kind}"\n'
                f'base_url = "{f[name].base}/v1"\ntimeout_s = 20\n\n')

    def route(model: str, *targets: tuple[str, str | None]) -> str:
        out = f'[[routes]]\nmodel = "{model}"\n'
        for prov, up_model in targets:
            out += f'[[routes.targets]]\nprovider = "{prov}"\n'
            if up_model:
                out += f'model = "{up_model}"\n'
        return out + "\n"

    return ("[limits]\ningress_rpm = 0\n\n"
            + provider("anth", "anthropic") + provider("anth_down", "anthropic")
            + provider("broken", "anthropic")
            + provider("oai", "openai") + provider("oai_busy", "openai")
            + route("claude-pass", ("anth", "claude-upstream-pass"))
            + route("claude-xlate", ("oai", "gpt-upstream-xlate"))
            + route("claude-fallback", ("anth_down", "claude-upstream-down"),
                    ("anth", "claude-upstream-fb"))
            + route("claude-broken", ("broken", None))
            + route("gpt-pass", ("oai", "gpt-upstream-pass"))
            + route("gpt-xlate", ("anth", "claude-upstream-xlate"))
            + route("gpt-fallback", ("oai_busy", "gpt-upstream-busy"),
                    ("oai", "gpt-upstream-fb"))
            + route("gemini-xlate", ("oai", "gpt-upstream-gemini"))
            + route("gemini-anth", ("anth", "claude-upstream-gemini")))


class Suite:
    def __init__(self, args):
        self.root = Path(__file__).resolve().parents[2]
        self.scratch = Path(args.scratch).resolve()
        shutil.rmtree(self.scratch, ignore_errors=True)
        self.scratch.mkdir(parents=True)
        self.f = fakes(*UPSTREAMS)
        self.gw = Gateway(Path(args.aigw).resolve(), self.scratch, gateway_config(self.f))
        self.claude = Claude(Path(args.claude).resolve(), self.scratch)
        self.codex = Codex(Path(args.codex).resolve(), self.scratch)
        self.gemini = GeminiCli(Path(args.gemini).resolve(), self.scratch) if args.gemini else None
        self.numbers: list[str] = []

    def close(self) -> None:
        self.gw.close()
        for up in self.f.values():
            up.close()

    def reset(self) -> None:
        for up in self.f.values():
            up.reset()
        self.f["anth_down"].reset(default="status:500")
        self.f["oai_busy"].reset(default="status:429")

    # --- Claude Code ---------------------------------------------------------------------------

    def claude_tool_turn(self, route: str, token: str):
        work, note = make_workdir(self.scratch, route, token)
        run, out = self.claude.run(self.gw.base, route,
                                   f"What is in the note? FAKE_CMD=cat {note};", work)
        check(run.rc == 0 and out.get("is_error") is False,
              f"claude -p through aigw ({route}) did not succeed", run.describe())
        check(f"RESULT[{token}" in str(out.get("result")),
              f"claude's final answer lacks the tool result {token!r}: {out.get('result')!r}",
              run.describe())
        check(out.get("num_turns") == 2, f"expected 2 turns (tool round), got {out.get('num_turns')}")
        return run, out

    def test_claude_passthrough(self) -> None:
        run, out = self.claude_tool_turn("claude-pass", "pineapple-42")
        posts = self.f["anth"].posts("/v1/messages")
        check(len(posts) >= 2, f"anth got {len(posts)} /v1/messages requests, expected the tool round")
        for r in posts:
            check(r["body"]["model"] == "claude-upstream-pass", f"upstream model {r['body']['model']!r}")
            check("claude-code-20250219" in (r.header("anthropic-beta") or ""),
                  f"anthropic-beta not passed through: {r.header('anthropic-beta')!r}")
            check(r.header("anthropic-version") == "2023-06-01", "anthropic-version not forwarded")
            # Passthrough keeps the client's headers (docs/clients.md, "What goes upstream")
            # and its user-agent, with aigw's product token appended.
            sid = r.header("x-claude-code-session-id")
            check(sid is not None and sid == out.get("session_id"),
                  f"X-Claude-Code-Session-Id {sid!r} != session {out.get('session_id')!r}")
            ua = r.header("user-agent") or ""
            check(ua.startswith("claude-cli/") and " aigw/" in ua,
                  f"user-agent not the client's with aigw's token appended: {ua!r}")
            check("local-test-token" not in (r.header("authorization") or "")
                  + (r.header("x-api-key") or ""), "the client's token reached the upstream")
        last = posts[-1]["body"]["messages"]
        results = [b for m in last if m.get("role") == "user" and isinstance(m["content"], list)
                   for b in m["content"] if b.get("type") == "tool_result"]
        check(results and results[-1].get("is_error") in (None, False),
              f"the tool result is missing or an error: {results!r}")
        check("pineapple-42" in json.dumps(results[-1]), "the tool result lacks the file's content")
        uses = [b for m in last if m.get("role") == "assistant" and isinstance(m["content"], list)
                for b in m["content"] if b.get("type") == "tool_use"]
        check(uses and uses[-1]["name"] == "Bash", f"the tool_use did not round-trip: {uses!r}")

    def test_claude_translated(self) -> None:
        self.claude_tool_turn("claude-xlate", "kiwi-17")
        posts = self.f["oai"].posts("/v1/chat/completions")
        check(len(posts) >= 2, f"oai got {len(posts)} chat requests, expected the tool round")
        check(not self.f["oai"].posts("/v1/messages"), "an Anthropic request reached the OpenAI upstream")
        for r in posts:
            check(r["body"]["model"] == "gpt-upstream-xlate", f"upstream model {r['body']['model']!r}")
            check(r["body"].get("stream") is True, "Claude Code's stream was not streamed upstream")
        msgs = posts[-1]["body"]["messages"]
        tool_msgs = [m for m in msgs if m.get("role") == "tool"]
        check(tool_msgs and "kiwi-17" in json.dumps(tool_msgs[-1]),
              f"the tool result did not reach the OpenAI upstream as a tool message: {tool_msgs!r}")
        calls = [c for m in msgs if m.get("role") == "assistant" for c in m.get("tool_calls") or []]
        check(calls and calls[-1]["function"]["name"] == "Bash"
              and tool_msgs[-1].get("tool_call_id") == calls[-1]["id"],
              f"tool call ids did not round-trip: {calls!r} / {tool_msgs!r}")

    # --- Gemini CLI (through the Gemini ingress, translated) -------------------------------------

    def gemini_tool_turn(self, route: str, token: str) -> dict:
        check(self.gemini is not None, "no --gemini binary given")
        work, note = make_workdir(self.scratch, route, token)
        run, out = self.gemini.run(self.gw.base, route,
                                   f"What is in the note? FAKE_CMD=cat {note};", work)
        check(run.rc == 0, f"gemini -p through aigw ({route}) failed", run.describe())
        # Gemini CLI wraps a shell result: `<untrusted_context> | Output: TOKEN | …`.
        answer = str(out.get("response"))
        check(answer.startswith("RESULT[") and token in answer,
              f"gemini's final answer lacks the tool result {token!r}: {answer!r}",
              run.describe())
        return out

    def test_gemini_translated_to_chat(self) -> None:
        self.gemini_tool_turn("gemini-xlate", "fig-11")
        posts = self.f["oai"].posts("/v1/chat/completions")
        check(len(posts) >= 2, f"oai got {len(posts)} chat requests, expected the tool round")
        for r in posts:
            check(r["body"]["model"] == "gpt-upstream-gemini", f"upstream model {r['body']['model']!r}")
            check(r["body"].get("stream") is True, "Gemini CLI's stream was not streamed upstream")
        msgs = posts[-1]["body"]["messages"]
        tool_msgs = [m for m in msgs if m.get("role") == "tool"]
        calls = [c for m in msgs if m.get("role") == "assistant" for c in m.get("tool_calls") or []]
        check(tool_msgs and "fig-11" in json.dumps(tool_msgs[-1]),
              f"the shell result did not reach the upstream as a tool message: {tool_msgs!r}")
        check(calls and calls[-1]["function"]["name"] == "run_shell_command"
              and tool_msgs[-1].get("tool_call_id") == calls[-1]["id"],
              f"tool call ids did not round-trip: {calls!r} / {tool_msgs!r}")

    def test_gemini_translated_to_anthropic(self) -> None:
        self.gemini_tool_turn("gemini-anth", "date-23")
        posts = self.f["anth"].posts("/v1/messages")
        check(len(posts) >= 2, f"anth got {len(posts)} requests, expected the tool round")
        check(all(r["body"]["model"] == "claude-upstream-gemini" for r in posts),
              f"upstream models {[r['body']['model'] for r in posts]!r}")

    def test_claude_fallback(self) -> None:
        self.claude_tool_turn("claude-fallback", "papaya-3")
        down = self.f["anth_down"].posts("/v1/messages")
        check(down and down[0]["body"]["model"] == "claude-upstream-down",
              f"the first target was not tried: {len(down)} requests")
        ok = self.f["anth"].posts("/v1/messages")
        check(len(ok) >= 2 and all(r["body"]["model"] == "claude-upstream-fb" for r in ok),
              f"the second target did not answer the tool round: {[r['body']['model'] for r in ok]}")

    # --- Codex ---------------------------------------------------------------------------------

    def codex_tool_turn(self, route: str, token: str, websockets: bool = False):
        work, note = make_workdir(self.scratch, route, token)
        run, answer = self.codex.run(self.gw.base + "/v1", route,
                                     f"What is in the note? FAKE_CMD=cat {note};", work,
                                     websockets=websockets)
        check(run.rc == 0, f"codex exec through aigw ({route}) failed", run.describe())
        check("RESULT[" in answer and token in answer,
              f"codex's final answer lacks the tool result {token!r}: {answer!r}", run.describe())
        return run, answer

    def test_codex_passthrough(self) -> None:
        self.codex_tool_turn("gpt-pass", "mango-7")
        posts = self.f["oai"].posts("/v1/responses")
        check(len(posts) >= 2, f"oai got {len(posts)} Responses requests, expected the tool round")
        for r in posts:
            check(r["body"]["model"] == "gpt-upstream-pass", f"upstream model {r['body']['model']!r}")
            check(r.header("authorization") != "Bearer local-test-token",
                  "the client's token reached the upstream")
        items = posts[-1]["body"]["input"]
        outs = [i for i in items if i.get("type") == "function_call_output"]
        calls = [i for i in items if i.get("type") == "function_call"]
        check(outs and "mango-7" in json.dumps(outs[-1]), f"no function_call_output with the file: {outs!r}")
        check(calls and calls[-1]["call_id"] == outs[-1]["call_id"] == "call_fake_1",
              f"call ids did not round-trip: {calls!r}")

    def test_codex_translated(self) -> None:
        self.codex_tool_turn("gpt-xlate", "lychee-9")
        posts = self.f["anth"].posts("/v1/messages")
        check(len(posts) >= 2, f"anth got {len(posts)} Messages requests, expected the tool round")
        for r in posts:
            check(r["body"]["model"] == "claude-upstream-xlate", f"upstream model {r['body']['model']!r}")
        msgs = posts[-1]["body"]["messages"]
        results = [b for m in msgs if m.get("role") == "user" and isinstance(m["content"], list)
                   for b in m["content"] if b.get("type") == "tool_result"]
        uses = [b for m in msgs if m.get("role") == "assistant" and isinstance(m["content"], list)
                for b in m["content"] if b.get("type") == "tool_use"]
        check(results and "lychee-9" in json.dumps(results[-1]),
              f"the shell output did not reach Anthropic as a tool_result: {results!r}")
        check(uses and uses[-1]["id"] == results[-1]["tool_use_id"],
              f"tool_use ids did not round-trip: {uses!r}")

    def test_codex_fallback(self) -> None:
        self.codex_tool_turn("gpt-fallback", "guava-5")
        busy = self.f["oai_busy"].posts("/v1/responses")
        check(busy and busy[0]["body"]["model"] == "gpt-upstream-busy",
              "the first (429) target was not tried")
        ok = self.f["oai"].posts("/v1/responses")
        check(len(ok) >= 2 and all(r["body"]["model"] == "gpt-upstream-fb" for r in ok),
              "the second target did not answer the tool round")

    def test_codex_websocket_attempt(self) -> None:
        """With WebSockets left on, Codex's upgrade gets 426 and it streams over HTTP at once."""
        run, _ = self.codex_tool_turn("gpt-pass", "mango-8", websockets=True)
        check(run.seconds < 5.0,
              f"codex took {run.seconds:.1f} s with supports_websockets=true: the answer to its "
              "WebSocket upgrade made it retry (a 405/404 costs about 6 s)", run.describe())
        check(len(self.f["oai"].posts("/v1/responses")) == 2,
              "the turn did not go over HTTP after the upgrade was refused")

    # --- the broken stream (Claude Code spun through the gateway) ------------------------------

    # (mode, queued, direct): a queued mode fails only the first request, the rest are answered.
    # `direct = False`: not run direct in the suite, where Claude Code itself spins: a cut stream
    # it retries ten times with backoff (measured 179 s, 12 requests); through aigw the cut ends
    # with an Anthropic `event: error`, on which it falls back to a non-streamed request at once.
    BROKEN = (("cut:3", False, False), ("error_event:3", False, True),
              ("status:529", True, True), ("status:500", True, True))

    def broken_once(self, mode: str, queued: bool, via_gateway: bool):
        up = self.f["broken"]
        if queued:
            up.reset(default="agent", queue=[mode])
        else:
            up.reset(default=mode)
        work, _ = make_workdir(self.scratch, "broken", "unused")
        base = self.gw.base if via_gateway else up.base
        run, out = self.claude.run(base, "claude-broken", "Say hello.", work,
                                   timeout=BROKEN_TIMEOUT_S)
        return run, out, up.posts("/v1/messages")

    def test_broken_stream(self) -> None:
        """Claude Code on a broken upstream: through aigw no spin, and the same outcome with
        about as many upstream requests as direct."""
        for mode, queued, direct in self.BROKEN:
            g_run, g_out, g_posts = self.broken_once(mode, queued, via_gateway=True)
            line = (f"broken stream {mode:14} via aigw {g_run.seconds:5.1f} s "
                    f"({len(g_posts)} upstream requests)")
            check(g_run.seconds < BROKEN_STREAM_BOUND_S,
                  f"{mode}: claude -p took {g_run.seconds:.1f} s through aigw", g_run.describe())
            if not direct:
                self.numbers.append(line)
                check(g_out.get("is_error") is False and "Hello from broken" in g_out["result"],
                      f"{mode}: no answer from the non-streamed fallback: {g_out.get('result')!r}",
                      g_run.describe())
                check([r["body"].get("stream") for r in g_posts] == [True, False],
                      f"{mode}: expected a stream then one non-streamed request, got "
                      f"{[r['body'].get('stream') for r in g_posts]}")
                continue
            d_run, d_out, d_posts = self.broken_once(mode, queued, via_gateway=False)
            self.numbers.append(f"{line}, direct {d_run.seconds:5.1f} s ({len(d_posts)})")
            check(g_out.get("is_error") == d_out.get("is_error") is not None,
                  f"{mode}: direct is_error {d_out.get('is_error')} ({d_out.get('result')!r}), "
                  f"through aigw {g_out.get('is_error')} ({g_out.get('result')!r})", g_run.describe())
            check(len(g_posts) <= len(d_posts) + 1,
                  f"{mode}: the upstream got {len(g_posts)} requests through aigw, "
                  f"{len(d_posts)} direct")

    # --- numbers ------------------------------------------------------------------------------

    def measure(self) -> None:
        def median(fn) -> float:
            return statistics.median(fn() for _ in range(3))

        work, _ = make_workdir(self.scratch, "measure", "x")
        for name, base in (("direct", self.f["anth"].base), ("aigw", self.gw.base)):
            t = median(lambda: self.claude.run(base, "claude-pass", "Say hello.", work)[0].seconds)
            self.numbers.append(f"claude -p one turn {name:6}: {t:.2f} s (median of 3)")
        for name, base in (("direct", self.f["oai"].base + "/v1"), ("aigw", self.gw.base + "/v1")):
            t = median(lambda: self.codex.run(base, "gpt-pass", "Say hello.", work)[0].seconds)
            self.numbers.append(f"codex exec one turn {name:6}: {t:.2f} s (median of 3)")
        for ws in (False, True):
            t = median(lambda: self.codex.run(self.gw.base + "/v1", "gpt-pass", "Say hello.", work,
                                              websockets=ws)[0].seconds)
            self.numbers.append(f"codex exec via aigw supports_websockets={str(ws).lower():5}: "
                                f"{t:.2f} s (median of 3)")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--aigw", required=True)
    ap.add_argument("--claude", required=True)
    ap.add_argument("--codex", required=True)
    ap.add_argument("--gemini", default="", help="Gemini CLI's gemini.js (its tests fail without)")
    ap.add_argument("--scratch", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--measure", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory")
    args = ap.parse_args()

    suite = Suite(args)
    tests = [n for n in dir(suite) if n.startswith("test_") and args.only in n]
    failed = []
    t_all = time.monotonic()
    try:
        for name in tests:
            suite.reset()
            t0 = time.monotonic()
            try:
                getattr(suite, name)()
                print(f"PASS {name} ({time.monotonic() - t0:.1f} s)", flush=True)
            except Exception as e:  # noqa: BLE001 — report every failure, run the rest
                failed.append(name)
                print(f"FAIL {name} ({time.monotonic() - t0:.1f} s)", flush=True)
                detail = str(e) if isinstance(e, Failure) else traceback.format_exc()
                print("    " + detail.replace("\n", "\n    "), flush=True)
        if args.measure:
            suite.reset()
            suite.measure()
    finally:
        suite.close()
    for line in suite.numbers:
        print(f"  {line}")
    print(f"{len(tests) - len(failed)} passed, {len(failed)} failed "
          f"in {time.monotonic() - t_all:.0f} s", flush=True)
    if failed:
        print(f"aigw log: {suite.gw.log_path}")
        return 1
    if not args.keep:
        shutil.rmtree(suite.scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
