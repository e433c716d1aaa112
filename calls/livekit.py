"""LiveKit server API for calls: rooms, participant tokens, outbound SIP calls, SIP transfer and hang-up.

Every call has its own room, ``call-<call uuid>``; the room's metadata holds the call id and nothing else, so no
personal data sits on the media server. Inbound calls arrive in rooms named by LiveKit's SIP dispatch rule; the
functions that act on a room take ``room=`` for those. The API functions are coroutines (``async_to_sync`` them
from tasks and views); errors of every kind come out as ``LiveKitError``.
"""

from __future__ import annotations

import datetime
import json
import re
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from livekit import api

ROOM_PREFIX = "call-"
AGENT_IDENTITY = "callkom-agent"  # the bridge in every room
CALLER_IDENTITY = "caller"  # the person dialled on an outbound call (never their number: identities are shown)
BRIDGE_CHANNEL = "livekit-bridge"

ROOM_EMPTY_TIMEOUT_S = 120  # nobody joined: the bridge failed and nobody was dialled
ROOM_DEPARTURE_TIMEOUT_S = 30  # everyone left: end the room, which ends the call through the webhook
RINGING_TIMEOUT_S = 30
DEFAULT_TOKEN_TTL = datetime.timedelta(minutes=10)  # long enough to join; a joined participant stays
SIP_CALL_STATUS = "sip.callStatus"

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class LiveKitError(Exception):
    """A LiveKit request failed; ``code``/``status`` are LiveKit's, ``sip_status_code`` the SIP response if any."""

    def __init__(self, message: str, *, code: str = "", status: int | None = None,
                 sip_status_code: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.sip_status_code = sip_status_code


class LiveKitNotConfigured(LiveKitError):
    """LIVEKIT_URL, LIVEKIT_API_KEY or LIVEKIT_API_SECRET is not set."""


@dataclass(frozen=True)
class LiveKitConfig:
    url: str
    api_key: str
    api_secret: str


def livekit_config() -> LiveKitConfig:
    """Return the LiveKit settings; raise ``LiveKitNotConfigured`` naming what is missing."""
    values = {name: getattr(settings, name, "") or "" for name in
              ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")}
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise LiveKitNotConfigured(f"LiveKit is not configured: set {', '.join(missing)} in the environment.")
    return LiveKitConfig(values["LIVEKIT_URL"], values["LIVEKIT_API_KEY"], values["LIVEKIT_API_SECRET"])


def room_name(call) -> str:
    """Return the name of the call's own room."""
    return f"{ROOM_PREFIX}{call.pk}"


def call_id_from_room(name: str) -> uuid.UUID | None:
    """Return the call id a room name carries, or None for a room that is not a call's own."""
    if not name.startswith(ROOM_PREFIX):
        return None
    try:
        return uuid.UUID(name[len(ROOM_PREFIX):])
    except ValueError:
        return None


def call_id_from_metadata(metadata: str) -> uuid.UUID | None:
    """Return the call id held in a room's metadata (as ``room_create`` writes it), or None."""
    try:
        value = json.loads(metadata or "{}").get("call_id")
        return uuid.UUID(str(value)) if value else None
    except (ValueError, AttributeError, TypeError):
        return None


def _check_e164(number: str, what: str) -> None:
    if not _E164.match(number or ""):
        raise LiveKitError(f"The {what} is not an E.164 phone number (e.g. +33123456789).", code="invalid_number")


@asynccontextmanager
async def _client(action: str):
    """Open a LiveKit API client and turn whatever goes wrong while ``action`` into a ``LiveKitError``."""
    config = livekit_config()
    client = api.LiveKitAPI(config.url, config.api_key, config.api_secret)
    try:
        yield client
    except api.SipCallError as exc:
        raise LiveKitError(f"LiveKit could not {action}: {exc}", code=exc.code, status=exc.status,
                           sip_status_code=exc.sip_status_code) from exc
    except api.ServerError as exc:
        raise LiveKitError(f"LiveKit refused to {action}: {exc.message or exc.code} "
                           f"({exc.code}, HTTP {exc.status}).", code=exc.code, status=exc.status) from exc
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise LiveKitError(f"LiveKit is unreachable at {config.url} and could not {action}: "
                           f"{type(exc).__name__} {exc}".strip(), code="unavailable") from exc
    finally:
        await client.aclose()


async def room_create(call, *, empty_timeout_s: int = ROOM_EMPTY_TIMEOUT_S) -> api.Room:
    """Create the call's room; its metadata carries the call id only."""
    request = api.CreateRoomRequest(
        name=room_name(call), empty_timeout=empty_timeout_s, departure_timeout=ROOM_DEPARTURE_TIMEOUT_S,
        metadata=json.dumps({"call_id": str(call.pk)}))
    async with _client(f"create the room of call {call.pk}") as client:
        return await client.room.create_room(request)


async def hang_up(call, *, room: str | None = None) -> None:
    """End the call by deleting its room, which disconnects everyone in it; a room already gone is fine."""
    name = room or room_name(call)
    try:
        async with _client(f"delete room {name}") as client:
            await client.room.delete_room(api.DeleteRoomRequest(room=name))
    except LiveKitError as exc:
        if exc.code != api.ServerErrorCode.NOT_FOUND:
            raise


def participant_token(call, identity: str, *, can_publish: bool, can_subscribe: bool,
                      ttl: datetime.timedelta | int = DEFAULT_TOKEN_TTL, room: str | None = None) -> str:
    """Return a token that lets ``identity`` join the call's room and nothing else.

    The bridge's token may publish its voice (microphone only) and hear the caller; a supervisor's or listener's
    token is subscribe-only. No token can send data, change its metadata or manage the room.
    """
    config = livekit_config()
    if not identity:
        raise LiveKitError("A participant token needs an identity.", code="invalid_argument")
    grants = api.VideoGrants(
        room_join=True, room=room or room_name(call), can_publish=can_publish, can_subscribe=can_subscribe,
        can_publish_data=False, can_publish_sources=["microphone"] if can_publish else None)
    ttl = ttl if isinstance(ttl, datetime.timedelta) else datetime.timedelta(seconds=ttl)
    return (api.AccessToken(config.api_key, config.api_secret).with_identity(identity).with_grants(grants)
            .with_ttl(ttl).to_jwt())


async def dial_out(call, phone_e164: str, trunk_id: str, *, wait_until_answered: bool = True,
                   ringing_timeout_s: int = RINGING_TIMEOUT_S, max_duration_s: int | None = None,
                   room: str | None = None) -> api.SIPParticipantInfo:
    """Call ``phone_e164`` through the outbound trunk into the call's room.

    With ``wait_until_answered`` this returns once the person answers, and a busy line, a refusal or no answer
    raises ``LiveKitError`` with ``sip_status_code`` set. The number is hidden from the room's participants.
    """
    _check_e164(phone_e164, "number to call")
    if not trunk_id:
        raise LiveKitError("No outbound SIP trunk is configured for this company.", code="no_trunk")
    request = api.CreateSIPParticipantRequest(
        sip_trunk_id=trunk_id, sip_call_to=phone_e164, room_name=room or room_name(call),
        participant_identity=CALLER_IDENTITY, participant_name=CALLER_IDENTITY, hide_phone_number=True,
        play_dialtone=False, wait_until_answered=wait_until_answered)
    request.ringing_timeout.seconds = ringing_timeout_s
    if max_duration_s:
        request.max_call_duration.seconds = max_duration_s
    async with _client(f"dial out for call {call.pk}") as client:
        return await client.sip.create_sip_participant(request)


async def transfer(call, participant_identity: str, to_e164: str, *, room: str | None = None) -> None:
    """Hand the caller over to a person at ``to_e164`` (a SIP REFER); the caller then leaves the room."""
    _check_e164(to_e164, "transfer number")
    request = api.TransferSIPParticipantRequest(
        participant_identity=participant_identity, room_name=room or room_name(call), transfer_to=f"tel:{to_e164}",
        play_dialtone=False)
    async with _client(f"transfer call {call.pk}") as client:
        response = await client.sip.transfer_sip_participant(request)
    # An older server answers with an empty response (status "ongoing"): only an explicit failure is one.
    if response.status == api.SIPTransferStatus.STS_TRANSFER_FAILED:
        reason = api.SIPTransferReason.Name(response.reason)
        raise LiveKitError(f"LiveKit could not transfer call {call.pk}: {reason}.", code="transfer_failed",
                           sip_status_code=response.sip_status.code or None)


def bridge_message(*, call, room: str | None = None, mode: str | None = None,
                   fake_options: dict | None = None) -> dict:
    """Return the ``call.join`` message that sends a bridge worker into the call's room."""
    message = {"type": "call.join", "call_id": str(call.pk), "tenant_id": call.tenant_id,
               "room": room or room_name(call)}
    if mode:
        message["mode"] = mode
    if fake_options is not None:
        message["fake_options"] = fake_options
    return message


def bridge_dispatch(*, call, room: str | None = None) -> None:
    """Ask a bridge worker (``manage.py runworker livekit-bridge``) to join the call's room."""
    layer = get_channel_layer()
    if layer is None:
        raise LiveKitError("No channel layer is configured: the LiveKit bridge cannot be reached.",
                           code="no_channel_layer")
    async_to_sync(layer.send)(BRIDGE_CHANNEL, bridge_message(call=call, room=room))
