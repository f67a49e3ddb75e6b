"""Scripted fake LLM upstreams for the real-agent suite: real HTTP servers on 127.0.0.1.

Each `FakeLLM` is one upstream (its own port) speaking Anthropic Messages (`POST /v1/messages`),
OpenAI chat completions (`POST /v1/chat/completions`) and OpenAI Responses (`POST /v1/responses`),
streamed or not, as the request asks. It records every request (method, path, headers, JSON body)
and answers by a *mode*: a FIFO queue of modes (one per POST) falls back to `default`.

Modes:
* `agent` — a tiny deterministic "model" that drives one tool round: when the prompt contains
  `FAKE_CMD=<shell command>;` and the request offers a shell-like tool (Claude Code's `Bash`,
  Codex's `exec_command` / `shell` / `shell_command`, Gemini CLI's `run_shell_command`) it asks for that tool with the command;
  when the conversation ends with a tool result it answers `RESULT[<the result's lines>]`;
  otherwise `Hello from NAME`.
* `status:CODE` — an error in the endpoint's shape (Anthropic's `{"type":"error",...}` on
  /v1/messages, OpenAI's `{"error":{...}}` elsewhere); `status:429` carries `retry-after: 1`.
* `cut:N` — a streamed request gets 200 SSE: the start of an answer and N text deltas, then the
  connection is closed in the middle of the chunked body (no terminating chunk): a broken
  stream. A non-streamed request is answered like `agent`.
* `error_event:N` — 200 SSE whatever the request's `stream` (as testkit's `StreamError`): the
  start and N text deltas, then Anthropic's mid-stream `event: error` with `overloaded_error`
  (an OpenAI-shaped error event elsewhere), then the end.

Only the standard library: the suite needs nothing installed besides the clients under test.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SHELL_TOOLS = ("Bash", "exec_command", "shell_command", "shell", "run_shell_command")
CMD_RE = re.compile(r"FAKE_CMD=([^;\n]+);")
MAX_BODY = 16 * 1024 * 1024


def _tool_args(tool: str, cmd: str) -> dict[str, Any]:
    if tool == "Bash":
        return {"command": cmd, "description": "Run the command the user asked for"}
    if tool == "exec_command":
        return {"cmd": cmd}
    if tool == "shell":
        return {"command": ["bash", "-lc", cmd]}
    return {"command": cmd}


def _text_of(content: Any) -> str:
    """All text in a message content (string, or blocks / parts of any protocol)."""
    if isinstance(content, str):
        return content
    out = []
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict):
                for key in ("text", "content", "output"):
                    if key in part:
                        out.append(_text_of(part[key]))
            elif isinstance(part, str):
                out.append(part)
    return "\n".join(out)


def _lines(text: str) -> str:
    """The non-empty lines of a tool result, joined with ` | ` (at most 400 characters)."""
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())[:400]


class Turn:
    """What the fake model decided: a text answer, or one tool call."""

    def __init__(self, text: str | None = None, tool: str | None = None, args: dict | None = None):
        self.text = text
        self.tool = tool
        self.args = args or {}


def _tools_offered(body: dict) -> list[str]:
    names = []
    for t in body.get("tools") or []:
        if not isinstance(t, dict):
            continue
        name = t.get("name") or (t.get("function") or {}).get("name")
        if name:
            names.append(name)
    return names


def _decide(name: str, result: str | None, prompt: str, tools: list[str]) -> Turn:
    if result is not None:
        return Turn(text=f"RESULT[{_lines(result)}]")
    m = CMD_RE.search(prompt)
    if m:
        for t in SHELL_TOOLS:
            if t in tools:
                return Turn(tool=t, args=_tool_args(t, m.group(1).strip()))
    return Turn(text=f"Hello from {name}")


def decide_messages(name: str, body: dict) -> Turn:
    # Claude Code may end the list with a `system` message: look at the last user turn.
    users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
    last = users[-1] if users else {}
    content = last.get("content")
    if isinstance(content, list):
        results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
        if results:
            return _decide(name, _text_of(results[-1].get("content")), "", [])
    return _decide(name, None, _text_of(content), _tools_offered(body))


def decide_chat(name: str, body: dict) -> Turn:
    msgs = [m for m in body.get("messages") or [] if m.get("role") in ("user", "tool")]
    last = msgs[-1] if msgs else {}
    if last.get("role") == "tool":
        return _decide(name, _text_of(last.get("content")), "", [])
    return _decide(name, None, _text_of(last.get("content")), _tools_offered(body))


def decide_responses(name: str, body: dict) -> Turn:
    items = body.get("input")
    if isinstance(items, str):
        return _decide(name, None, items, _tools_offered(body))
    items = items or []
    last = items[-1] if items else {}
    if last.get("type") == "function_call_output":
        return _decide(name, _text_of(last.get("output")), "", [])
    users = [i for i in items if i.get("role") == "user"]
    prompt = _text_of(users[-1].get("content")) if users else ""
    return _decide(name, None, prompt, _tools_offered(body))


def _sse(event: str | None, data: Any) -> bytes:
    head = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"{head}data: {payload}\n\n".encode()


def anthropic_error(status: int, message: str) -> dict:
    kind = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
            429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def openai_error(status: int, message: str) -> dict:
    kind = {429: "rate_limit_error"}.get(status, "server_error" if status >= 500 else
                                          "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


class Recorded(dict):
    """One request: `method`, `path`, `headers` (lower-case names), `body` (JSON or None)."""

    def header(self, name: str) -> str | None:
        return self["headers"].get(name.lower())


class FakeLLM:
    def __init__(self, name: str, default: str = "agent"):
        self.name = name
        self.default = default
        self.queue: list[str] = []
        # The answer to a WebSocket upgrade (`GET` with `Upgrade: websocket`): a status.
        self.ws_status = 404
        self.requests: list[Recorded] = []
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"fake": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        """`http://127.0.0.1:PORT` (Anthropic clients add /v1)."""
        return f"http://127.0.0.1:{self.port}"

    def reset(self, default: str = "agent", queue: list[str] | None = None) -> None:
        with self.lock:
            self.default = default
            self.queue = list(queue or [])
            self.requests = []

    def posts(self, path: str | None = None) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests
                    if r["method"] == "POST" and (path is None or r["path"] == path)]

    def next_mode(self) -> str:
        with self.lock:
            return self.queue.pop(0) if self.queue else self.default

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeLLM

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet
        pass

    def _record(self) -> Recorded:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(min(length, MAX_BODY)) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        rec = Recorded(method=self.command, path=self.path.split("?")[0], t=time.monotonic(),
                       query=self.path.partition("?")[2],
                       headers={k.lower(): v for k, v in self.headers.items()}, body=body)
        with self.fake.lock:
            self.fake.requests.append(rec)
        return rec

    def _json(self, status: int, obj: Any, extra: dict[str, str] | None = None) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # noqa: N802
        rec = self._record()
        if (rec.header("upgrade") or "").lower() == "websocket":
            status = self.fake.ws_status
            self._json(status, openai_error(status, "websocket upgrades are not served here"))
        elif rec["path"].rstrip("/") == "/v1/models":
            self._json(200, {"object": "list", "data": [
                {"id": "fake-model", "object": "model", "created": 0, "owned_by": self.fake.name}]})
        else:
            self._json(404, openai_error(404, f"unknown {rec['path']}"))

    def do_POST(self) -> None:  # noqa: N802
        rec = self._record()
        body = rec["body"] if isinstance(rec["body"], dict) else {}
        path = rec["path"]
        proto = {"/v1/messages": "messages", "/v1/chat/completions": "chat",
                 "/v1/responses": "responses"}.get(path)
        if proto is None:
            err = anthropic_error(404, "not found") if path.startswith("/v1/messages") \
                else openai_error(404, f"unknown {path}")
            self._json(404, err)
            return
        mode = self.fake.next_mode()
        if mode.startswith("status:"):
            status = int(mode.split(":")[1])
            msg = f"fake {self.fake.name}: simulated HTTP {status}"
            err = anthropic_error(status, msg) if proto == "messages" else openai_error(status, msg)
            self._json(status, err, {"retry-after": "1"} if status == 429 else None)
            return
        model = body.get("model") or "fake-model"
        stream = bool(body.get("stream"))
        if (mode.startswith("cut:") and stream) or mode.startswith("error_event:"):
            n = int(mode.split(":")[1])
            self._broken(proto, model, n, cut=mode.startswith("cut:"))
            return
        turn = {"messages": decide_messages, "chat": decide_chat,
                "responses": decide_responses}[proto](self.fake.name, body)
        if proto == "messages":
            if stream:
                self._stream(self._messages_events(model, turn))
            else:
                self._json(200, self._message(model, turn))
        elif proto == "chat":
            if stream:
                self._stream(self._chat_events(model, turn))
            else:
                self._json(200, self._chat(model, turn))
        else:
            events = self._responses_events(model, turn)
            if stream:
                self._stream(events)
            else:
                self._json(200, json.loads(events[-1].split(b"data: ", 1)[1]).get("response"))

    # --- streaming plumbing -------------------------------------------------------------------

    def _start_sse(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _stream(self, events: list[bytes]) -> None:
        self._start_sse()
        for ev in events:
            self._chunk(ev)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _broken(self, proto: str, model: str, n: int, cut: bool) -> None:
        if proto == "messages":
            events = self._messages_events(model, Turn(text=""), deltas=[f"tok{i} " for i in range(n)],
                                           stop=False)
            tail = _sse("error", anthropic_error(529, "Overloaded"))
        elif proto == "chat":
            events = self._chat_events(model, Turn(text=""), deltas=[f"tok{i} " for i in range(n)],
                                       stop=False)
            tail = _sse(None, openai_error(500, "fake upstream: simulated mid-stream failure"))
        else:
            events = self._responses_events(model, Turn(text=""), deltas=[f"tok{i} " for i in range(n)],
                                            stop=False)
            tail = _sse("error", {"type": "error", "code": "server_error",
                                  "message": "fake upstream: simulated mid-stream failure"})
        self._start_sse()
        for ev in events:
            self._chunk(ev)
        if cut:
            # Close in the middle of the chunked body: the client sees a broken stream.
            time.sleep(0.05)
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        else:
            self._chunk(tail)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        self.close_connection = True

    # --- Anthropic Messages ---------------------------------------------------------------------

    def _message(self, model: str, turn: Turn) -> dict:
        if turn.tool:
            content = [{"type": "tool_use", "id": "toolu_fake_1", "name": turn.tool,
                        "input": turn.args}]
            stop = "tool_use"
        else:
            content = [{"type": "text", "text": turn.text}]
            stop = "end_turn"
        return {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                "content": content, "stop_reason": stop, "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 5}}

    def _messages_events(self, model: str, turn: Turn, deltas: list[str] | None = None,
                         stop: bool = True) -> list[bytes]:
        start = self._message(model, Turn(text=""))
        start["content"] = []
        start["stop_reason"] = None
        start["usage"]["output_tokens"] = 1
        ev = [_sse("message_start", {"type": "message_start", "message": start}),
              _sse("ping", {"type": "ping"})]
        if turn.tool:
            ev.append(_sse("content_block_start", {
                "type": "content_block_start", "index": 0,
                "content_block": {"type": "tool_use", "id": "toolu_fake_1", "name": turn.tool,
                                  "input": {}}}))
            args = json.dumps(turn.args)
            for piece in (args[: len(args) // 2], args[len(args) // 2:]):
                ev.append(_sse("content_block_delta", {
                    "type": "content_block_delta", "index": 0,
                    "delta": {"type": "input_json_delta", "partial_json": piece}}))
            reason = "tool_use"
        else:
            ev.append(_sse("content_block_start", {
                "type": "content_block_start", "index": 0,
                "content_block": {"type": "text", "text": ""}}))
            text = turn.text or ""
            for piece in deltas if deltas is not None else [text[: len(text) // 2],
                                                             text[len(text) // 2:]]:
                ev.append(_sse("content_block_delta", {
                    "type": "content_block_delta", "index": 0,
                    "delta": {"type": "text_delta", "text": piece}}))
            reason = "end_turn"
        if not stop:
            return ev
        ev.append(_sse("content_block_stop", {"type": "content_block_stop", "index": 0}))
        ev.append(_sse("message_delta", {
            "type": "message_delta", "delta": {"stop_reason": reason, "stop_sequence": None},
            "usage": {"output_tokens": 5}}))
        ev.append(_sse("message_stop", {"type": "message_stop"}))
        return ev

    # --- OpenAI chat completions ----------------------------------------------------------------

    def _chat(self, model: str, turn: Turn) -> dict:
        msg: dict[str, Any] = {"role": "assistant", "content": turn.text}
        finish = "stop"
        if turn.tool:
            msg["tool_calls"] = [{"id": "call_fake_1", "type": "function", "function": {
                "name": turn.tool, "arguments": json.dumps(turn.args)}}]
            finish = "tool_calls"
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
                "choices": [{"index": 0, "message": msg, "finish_reason": finish}],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}

    def _chat_events(self, model: str, turn: Turn, deltas: list[str] | None = None,
                     stop: bool = True) -> list[bytes]:
        def chunk(delta: dict, finish: str | None = None) -> bytes:
            return _sse(None, {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                               "created": 0, "model": model,
                               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        ev = [chunk({"role": "assistant", "content": ""})]
        if turn.tool:
            args = json.dumps(turn.args)
            ev.append(chunk({"tool_calls": [{"index": 0, "id": "call_fake_1", "type": "function",
                                             "function": {"name": turn.tool, "arguments": ""}}]}))
            for piece in (args[: len(args) // 2], args[len(args) // 2:]):
                ev.append(chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
            finish = "tool_calls"
        else:
            text = turn.text or ""
            for piece in deltas if deltas is not None else [text[: len(text) // 2],
                                                             text[len(text) // 2:]]:
                ev.append(chunk({"content": piece}))
            finish = "stop"
        if not stop:
            return ev
        ev.append(chunk({}, finish))
        ev.append(_sse(None, {"id": "chatcmpl-fake", "object": "chat.completion.chunk",
                              "created": 0, "model": model, "choices": [],
                              "usage": {"prompt_tokens": 10, "completion_tokens": 5,
                                        "total_tokens": 15}}))
        ev.append(b"data: [DONE]\n\n")
        return ev

    # --- OpenAI Responses -----------------------------------------------------------------------

    def _responses_events(self, model: str, turn: Turn, deltas: list[str] | None = None,
                          stop: bool = True) -> list[bytes]:
        seq = iter(range(10_000))

        def ev(kind: str, **fields: Any) -> bytes:
            return _sse(kind, {"type": kind, "sequence_number": next(seq), **fields})

        base = {"id": "resp_fake", "object": "response", "created_at": 0, "model": model,
                "status": "in_progress", "output": [], "usage": None}
        out = [ev("response.created", response=base)]
        if turn.tool:
            item = {"type": "function_call", "id": "fc_fake_1", "call_id": "call_fake_1",
                    "name": turn.tool, "arguments": json.dumps(turn.args), "status": "completed"}
            out.append(ev("response.output_item.added", output_index=0,
                          item={**item, "arguments": "", "status": "in_progress"}))
            out.append(ev("response.function_call_arguments.delta", output_index=0,
                          item_id="fc_fake_1", delta=item["arguments"]))
            out.append(ev("response.output_item.done", output_index=0, item=item))
        else:
            text = turn.text or ""
            pieces = deltas if deltas is not None else [text[: len(text) // 2], text[len(text) // 2:]]
            msg = {"type": "message", "id": "msg_fake_1", "role": "assistant",
                   "status": "in_progress", "content": []}
            out.append(ev("response.output_item.added", output_index=0, item=msg))
            for p in pieces:
                out.append(ev("response.output_text.delta", output_index=0, item_id="msg_fake_1",
                              content_index=0, delta=p))
            if not stop:
                return out
            item = {**msg, "status": "completed",
                    "content": [{"type": "output_text", "text": "".join(pieces), "annotations": []}]}
            out.append(ev("response.output_item.done", output_index=0, item=item))
        done = {**base, "status": "completed", "output": [item],
                "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15,
                          "input_tokens_details": {"cached_tokens": 0},
                          "output_tokens_details": {"reasoning_tokens": 0}}}
        out.append(ev("response.completed", response=done))
        return out
