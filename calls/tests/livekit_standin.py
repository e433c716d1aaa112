"""A local stand-in for LiveKit's Twirp server API (rooms and SIP), checking tokens and grants as LiveKit does.

``livekit-api`` posts binary protobuf (``Content-Type: application/protobuf``) to ``/twirp/livekit.<Service>/<Method>``
with ``Authorization: Bearer <JWT>``; errors come back as Twirp JSON (``{"code", "msg", "meta"}``). The stand-in
verifies the JWT with the API secret (issuer = API key, ``exp`` required), checks the grants LiveKit requires for
each method, records what it received and answers with a valid protobuf message.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from google.protobuf.json_format import MessageToDict
from livekit import api

API_KEY = "APIstandin"
API_SECRET = "stand-in-secret-that-is-long-enough-for-hs256"


def _room_create(claims, body):
    return bool(claims.get("video", {}).get("roomCreate"))


def _sip_call(claims, body):
    return bool(claims.get("sip", {}).get("call"))


def _sip_call_and_room_admin(claims, body):
    video = claims.get("video", {})
    return _sip_call(claims, body) and bool(video.get("roomAdmin")) and video.get("room") == body.room_name


# path -> (request class, grant check, what the check requires)
METHODS = {
    "/twirp/livekit.RoomService/CreateRoom": (api.CreateRoomRequest, _room_create, "roomCreate"),
    "/twirp/livekit.RoomService/DeleteRoom": (api.DeleteRoomRequest, _room_create, "roomCreate"),
    "/twirp/livekit.SIP/CreateSIPParticipant": (api.CreateSIPParticipantRequest, _sip_call, "sip.call"),
    "/twirp/livekit.SIP/TransferSIPParticipant": (api.TransferSIPParticipantRequest, _sip_call_and_room_admin,
                                                  "sip.call and roomAdmin on the room"),
}


@dataclass
class Received:
    method: str
    content_type: str
    claims: dict
    body: dict


@dataclass
class LiveKitStandIn:
    """What the stand-in received, and failures to answer with: ``failures[method] = (status, twirp error)``."""

    api_key: str = API_KEY
    api_secret: str = API_SECRET
    url: str = ""
    requests: list[Received] = field(default_factory=list)
    refused: list[tuple[str, int, str]] = field(default_factory=list)
    failures: dict[str, tuple[int, dict]] = field(default_factory=dict)
    rooms: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def calls(self, method: str) -> list[Received]:
        with self.lock:
            return [request for request in self.requests if request.method == method]

    def fail(self, method: str, status: int, code: str, msg: str, meta: dict | None = None) -> None:
        self.failures[method] = (status, {"code": code, "msg": msg, **({"meta": meta} if meta else {})})


def _answer(method: str, request, state: LiveKitStandIn):
    if method == "CreateRoom":
        state.rooms.add(request.name)
        return api.Room(sid=f"RM_{request.name[-8:]}", name=request.name, empty_timeout=request.empty_timeout,
                        departure_timeout=request.departure_timeout, metadata=request.metadata,
                        creation_time=int(time.time()))
    if method == "DeleteRoom":
        if request.room not in state.rooms:
            return (404, {"code": "not_found", "msg": "requested room does not exist"})
        state.rooms.discard(request.room)
        return api.DeleteRoomResponse()
    if method == "CreateSIPParticipant":
        return api.SIPParticipantInfo(participant_id="PA_standin", participant_identity=request.participant_identity,
                                      room_name=request.room_name, sip_call_id="SCL_standin")
    return api.TransferSIPParticipantResponse(transfer_id="STR_standin",
                                              status=api.SIPTransferStatus.STS_TRANSFER_SUCCESSFUL)


def make_handler(state: LiveKitStandIn):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):
            pass

        def do_POST(self):
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path not in METHODS:
                return self._error(404, "bad_route", f"no handler for {self.path}")
            request_class, allowed, needs = METHODS[self.path]
            method = self.path.rsplit("/", 1)[1]
            auth = self.headers.get("Authorization", "")
            if not auth.startswith("Bearer "):
                return self._refuse(method, 401, "unauthenticated", "no authorization header")
            try:
                claims = jwt.decode(auth[7:], state.api_secret, algorithms=["HS256"], issuer=state.api_key,
                                    options={"require": ["exp", "iss"]})
            except jwt.PyJWTError as exc:
                return self._refuse(method, 401, "unauthenticated", f"invalid token: {exc}")
            if self.headers.get("Content-Type") != "application/protobuf":
                return self._error(400, "malformed", "expected application/protobuf")
            try:
                request = request_class.FromString(data)
            except Exception as exc:  # noqa: BLE001 - any decoding failure is the client's fault
                return self._error(400, "malformed", str(exc))
            if not allowed(claims, request):
                return self._refuse(method, 403, "permission_denied", f"requires {needs}")
            with state.lock:
                state.requests.append(Received(method, self.headers["Content-Type"], claims,
                                               MessageToDict(request, preserving_proto_field_name=True)))
                failure = state.failures.get(method)
            if failure is not None:
                return self._send_json(*failure)
            answer = _answer(method, request, state)
            if isinstance(answer, tuple):
                return self._send_json(*answer)
            payload = answer.SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/protobuf")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _refuse(self, method: str, status: int, code: str, msg: str):
            with state.lock:
                state.refused.append((method, status, code))
            self._error(status, code, msg)

        def _error(self, status: int, code: str, msg: str):
            self._send_json(status, {"code": code, "msg": msg})

        def _send_json(self, status: int, payload: dict):
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@pytest.fixture(name="livekit_server")
def livekit_server_fixture(settings):
    """Run the stand-in and point LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET at it."""
    state = LiveKitStandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    settings.LIVEKIT_URL = state.url
    settings.LIVEKIT_API_KEY = state.api_key
    settings.LIVEKIT_API_SECRET = state.api_secret
    yield state
    server.shutdown()
    server.server_close()
