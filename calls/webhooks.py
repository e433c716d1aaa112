"""LiveKit's signed webhooks: the call lifecycle as the media server sees it, and inbound calls.

LiveKit signs each webhook with a JWT (issuer = API key, HS256 with the API secret) whose ``sha256`` claim is the
base64 SHA-256 of the body; ``api.WebhookReceiver`` checks both. An event is accepted once (its id is kept in the
cache for ``REPLAY_TTL_S``) and only while it is fresh (``MAX_EVENT_AGE_S``). Refusals answer JSON
``{"detail": ...}``: 401 unsigned or tampered, 400 malformed or stale, 409 replayed, 503 LiveKit not configured.

What the events do to a call (found by its room ``call-<uuid>``, the room metadata, or, for inbound rooms, the
mapping kept when the call was created):

* ``participant_joined`` of the SIP participant: ringing while LiveKit still dials (``sip.callStatus``), in
  progress once the call is active. In a room that is not a call's yet, the dialled number
  (``sip.trunkPhoneNumber``) is looked up in ``InboundNumber``: a known number creates an inbound call for its
  tenant and script and sends the bridge into the room.
* ``participant_left`` of the SIP participant, ``room_finished``: a call never answered ends as no answer, a call in
  progress as completed, and the post-call report is queued. While the bridge is in the room, the bridge ends the
  call itself (it knows whether it was transferred), so a hang-up is left to it; ``room_finished`` always ends it.
* Anything else, and rooms that belong to no call, are acknowledged (200) and ignored.
"""

from __future__ import annotations

import json
import logging
import time

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from google.protobuf.json_format import ParseError
from livekit import api

from tenants.crypto import normalize_phone
from tenants.scope import all_tenants_scope, tenant_scope

from . import livekit
from .models import Call, InboundNumber
from .services import TransitionError, call_create, call_transition

logger = logging.getLogger(__name__)

MAX_EVENT_AGE_S = 300
MAX_CLOCK_SKEW_S = 60
REPLAY_TTL_S = 15 * 60  # longer than the freshness window, so a replay cannot outlive its record
ROOM_MAP_TTL_S = 3 * 3600  # longer than the longest call a script allows (one hour)

SIP_TRUNK_NUMBER = "sip.trunkPhoneNumber"  # the number dialled, on an inbound call
SIP_ACTIVE, SIP_ENDED = "active", {"hangup", "disconnected", "error"}
S = Call.Status


def _refuse(status: int, detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status)


@csrf_exempt
@require_POST
def livekit_webhook(request):
    """Verify a LiveKit webhook, refuse replays and stale events, and apply it to its call."""
    try:
        config = livekit.livekit_config()
    except livekit.LiveKitNotConfigured:
        return _refuse(503, _("LiveKit is not configured on this server."))
    token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not token:
        return _refuse(401, _("The webhook is not signed."))
    try:
        body = request.body.decode("utf-8")
    except UnicodeDecodeError:
        return _refuse(400, _("The webhook body is not valid JSON."))
    receiver = api.WebhookReceiver(api.TokenVerifier(config.api_key, config.api_secret))
    try:
        event = receiver.receive(body, token)
    except ParseError:  # raised only once the signature and the body hash have been checked
        return _refuse(400, _("The webhook body is not valid JSON."))
    except Exception:  # noqa: BLE001 - the receiver raises bare exceptions for a bad token or body hash
        return _refuse(401, _("The webhook signature is not valid."))
    if not event.id or not event.created_at:
        return _refuse(400, _("The webhook event has no id or creation time."))
    age = time.time() - event.created_at
    if age > MAX_EVENT_AGE_S or age < -MAX_CLOCK_SKEW_S:
        return _refuse(400, _("The webhook event is too old or dated in the future."))
    key = f"livekit:webhook:{event.id}"
    if not cache.add(key, 1, REPLAY_TTL_S):
        return _refuse(409, _("This webhook event has already been received."))
    try:
        result = livekit_event_apply(event=event)
    except Exception:
        cache.delete(key)  # let LiveKit's retry of this event through
        raise
    return JsonResponse({"detail": result})


# --- applying an event -----------------------------------------------------------------------------------------------

def livekit_event_apply(*, event: api.WebhookEvent) -> str:
    """Apply a verified webhook event; return what was done ("ignored", "ringing", "completed", ...)."""
    room = event.room.name
    participant = event.participant if event.HasField("participant") else None
    if participant is not None and participant.identity == livekit.AGENT_IDENTITY:
        _note_bridge(room, present=event.event == "participant_joined")
        return "noted"
    is_sip = participant is not None and participant.kind == api.ParticipantInfo.Kind.SIP
    call = _call_of_room(event.room)
    if call is None:
        if event.event == "participant_joined" and is_sip:
            return _inbound_call_start(room=event.room, participant=participant)
        return "ignored"
    with tenant_scope(call.tenant):
        if event.event == "participant_joined" and is_sip:
            status = participant.attributes.get(livekit.SIP_CALL_STATUS, SIP_ACTIVE)
            if status in SIP_ENDED:
                return "ignored"
            return _advance(call, S.IN_PROGRESS if status == SIP_ACTIVE else S.RINGING)
        if event.event in ("participant_left", "participant_connection_aborted") and is_sip:
            if call.status == S.IN_PROGRESS and _bridge_present(room):
                return "left to the bridge"
            return _end(call, reason="caller_hung_up")
        if event.event == "room_finished":
            _note_bridge(room, present=False)
            return _end(call, reason="room_finished")
    return "ignored"


def _call_of_room(room: api.Room) -> Call | None:
    call_id = livekit.call_id_from_room(room.name) or livekit.call_id_from_metadata(room.metadata)
    if call_id is None:
        mapped = cache.get(_room_key(room.name))
        call_id = mapped["call_id"] if mapped else None
    if call_id is None:
        return None
    with all_tenants_scope("LiveKit webhook: find the call of a room"):
        return Call.objects.select_related("tenant").filter(pk=call_id).first()


def _advance(call: Call, to: str) -> str:
    """Move the call forward unless it already is there or beyond (the bridge or the dial task may be first)."""
    try:
        call_transition(call=call, to=to)
    except TransitionError:
        return "unchanged"
    return to


def _end(call: Call, *, reason: str) -> str:
    """End a call that is still open: completed once answered, no answer before; then queue its report."""
    call.refresh_from_db(fields=["status"])
    if call.is_over:
        return "unchanged"
    to = {S.IN_PROGRESS: S.COMPLETED, S.RINGING: S.NO_ANSWER}.get(call.status, S.FAILED)
    try:
        call_transition(call=call, to=to, reason=reason if to != S.FAILED else "not_connected")
    except TransitionError:
        return "unchanged"
    _queue_finalize(call)
    return to


def _queue_finalize(call: Call) -> None:
    from .tasks import call_finalize

    tenant_id, call_id = call.tenant_id, str(call.pk)
    transaction.on_commit(lambda: call_finalize.delay(tenant_id, call_id))


# --- inbound calls -------------------------------------------------------------------------------------------------

def _room_key(room: str) -> str:
    return f"livekit:room:{room}"


def _bridge_key(room: str) -> str:
    return f"livekit:bridge-in:{room}"


def _note_bridge(room: str, *, present: bool) -> None:
    if present:
        cache.set(_bridge_key(room), 1, ROOM_MAP_TTL_S)
    else:
        cache.delete(_bridge_key(room))


def _bridge_present(room: str) -> bool:
    return bool(cache.get(_bridge_key(room)))


def _number_candidates(value: str) -> set[str]:
    value = (value or "").strip()
    digits = "".join(ch for ch in value if ch.isdigit())
    candidates = {value} if value else set()
    if digits:
        candidates.add(f"+{digits}")
    for raw in list(candidates):
        try:
            candidates.add(normalize_phone(raw))
        except ValidationError:
            pass
    return candidates


def _inbound_call_start(*, room: api.Room, participant: api.ParticipantInfo) -> str:
    """Create the inbound call of a number we serve and send the bridge into its room.

    The dialled number is the SIP participant's ``sip.trunkPhoneNumber``, or else ``dialed_number`` in the room
    metadata (which a dispatch rule's room configuration can set when the trunk hides numbers).
    """
    dialled = participant.attributes.get(SIP_TRUNK_NUMBER) or str(_metadata(room.metadata).get("dialed_number", ""))
    candidates = _number_candidates(dialled)
    if not candidates:
        return "ignored"
    with all_tenants_scope("LiveKit webhook: route a call to the tenant of the dialled number"):
        inbound = (InboundNumber.objects.select_related("tenant", "script")
                   .filter(number__in=candidates).first())
    if inbound is None or not inbound.tenant.is_active:
        return "ignored"
    room = room.name
    if not cache.add(_room_key(room), {"call_id": None}, ROOM_MAP_TTL_S):
        return "ignored"  # this room already has its call
    try:
        with tenant_scope(inbound.tenant), transaction.atomic():
            call = call_create(tenant=inbound.tenant, script=inbound.script, direction=Call.Direction.INBOUND,
                               channel=Call.Channel.PHONE)
            call_transition(call=call, to=S.IN_PROGRESS)
            transaction.on_commit(lambda: _dispatch_bridge(call, room))
    except Exception:
        cache.delete(_room_key(room))
        raise
    cache.set(_room_key(room), {"call_id": str(call.pk), "tenant_id": call.tenant_id}, ROOM_MAP_TTL_S)
    logger.info("inbound call %s created for room %s", call.pk, room)
    return "inbound call created"


def _dispatch_bridge(call: Call, room: str) -> None:
    try:
        livekit.bridge_dispatch(call=call, room=room)
    except Exception:  # noqa: BLE001 - the call row stays; the room's end will close it
        logger.exception("could not send the LiveKit bridge to call %s", call.pk)


def _metadata(metadata: str) -> dict:
    try:
        value = json.loads(metadata or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
