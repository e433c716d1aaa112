"""A local stand-in for Mistral's chat completions API (SSE streaming and JSON), recording what it receives."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class StandIn:
    """State shared with the handler threads: what to answer, and every request received."""

    def __init__(self):
        self.requests: list[dict] = []
        self.mode = "ok"  # ok | status | stall
        self.status = 200
        self.deltas = ["Bon", "jour", " !"]
        self.usage = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
        self.json_text = '{"intent": "rendez-vous"}'
        self.disconnected = threading.Event()


def _chunk(model: str, delta: dict, finish_reason=None, usage=None) -> bytes:
    payload = {"id": "cmpl-1", "object": "chat.completion.chunk", "created": 1, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}
    if usage:
        payload["usage"] = usage
    return f"data: {json.dumps(payload)}\n\n".encode()


def make_handler(stand_in: StandIn):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            stand_in.requests.append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                      "body": body})
            if stand_in.mode == "status":
                self._send_json(stand_in.status, {"object": "error", "message": "echo: Bonjour",
                                                  "type": "invalid_request_error", "code": "1000"})
            elif body.get("stream"):
                self._stream(body["model"])
            elif stand_in.mode == "stall":
                self._wait_for_disconnect()
            else:
                self._send_json(200, {
                    "id": "cmpl-2", "object": "chat.completion", "created": 1, "model": body["model"],
                    "usage": stand_in.usage,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": stand_in.json_text}}]})

        def _send_json(self, status: int, payload: dict):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _stream(self, model: str):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            deltas = stand_in.deltas[:1] if stand_in.mode == "stall" else stand_in.deltas
            for index, text in enumerate(deltas):
                self.wfile.write(_chunk(model, {"role": "assistant", "content": text} if index == 0
                                        else {"content": text}))
                self.wfile.flush()
            if stand_in.mode == "stall":
                self._wait_for_disconnect()
                return
            self.wfile.write(_chunk(model, {"content": ""}, finish_reason="stop", usage=stand_in.usage))
            self.wfile.write(b"data: [DONE]\n\n")

        def _wait_for_disconnect(self):
            # the client never sends more on this connection, so recv returns only once it closes it
            self.connection.settimeout(10)
            try:
                if self.connection.recv(1) == b"":
                    stand_in.disconnected.set()
            except OSError:
                pass

    return Handler


@pytest.fixture
def stand_in():
    state = StandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def no_proxy(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)


