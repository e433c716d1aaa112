"""Outbound phone calls: queue one, then dial it through LiveKit (room, bridge, SIP participant)."""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from django.core.exceptions import ValidationError
from django.db import transaction

from tenants.models import Tenant, TenantSettings

from . import livekit
from .donotcall import do_not_call_reason
from .models import Call, Contact, Script
from .services import TransitionError, call_create, call_transition
from .tasks import call_dial, call_finalize

logger = logging.getLogger(__name__)

S = Call.Status
# SIP answers that mean the person did not pick up (rather than that the call could not be placed).
NOT_ANSWERED = {408: "no_answer", 480: "no_answer", 486: "busy", 487: "no_answer", 600: "busy", 603: "declined"}


def call_start_outbound(*, tenant: Tenant, script: Script, contact: Contact, legal_basis: str = "",
                        campaign=None) -> Call:
    """Queue an outbound call to ``contact`` (for ``campaign``, if any); the ``calls.call_dial`` task dials it once
    committed."""
    refusal = do_not_call_reason(tenant=tenant, phone_e164=contact.phone)
    if refusal:
        raise ValidationError(refusal)
    with transaction.atomic():
        call = call_create(tenant=tenant, script=script, contact=contact, direction=Call.Direction.OUTBOUND,
                           channel=Call.Channel.PHONE, legal_basis=legal_basis, campaign=campaign)
        tenant_id, call_id = tenant.pk, str(call.pk)
        transaction.on_commit(lambda: call_dial.delay(tenant_id, call_id))
    return call


def call_dial_now(*, call: Call) -> Call:
    """Create the call's room, send the bridge into it and dial the contact (waiting for an answer).

    A call that cannot be placed ends as failed with the reason; a busy line, a refusal or no answer ends it as
    no answer and queues its report. Must run in the tenant's scope, outside any event loop (a task).
    """
    if call.status != S.QUEUED:
        return call
    trunk_id = TenantSettings.objects.get(tenant=call.tenant).sip_outbound_trunk_id
    phone = call.contact.phone if call.contact is not None else ""
    if not trunk_id:
        return _fail(call, "no_outbound_trunk")
    if not phone:
        return _fail(call, "no_phone_number")
    if do_not_call_reason(tenant=call.tenant, phone_e164=phone):  # an objection may have come since it was queued
        return call_transition(call=call, to=S.CANCELED, reason="do_not_call")
    try:
        async_to_sync(livekit.room_create)(call)
    except livekit.LiveKitNotConfigured:
        return _fail(call, "livekit_not_configured")
    except livekit.LiveKitError as exc:
        logger.warning("call %s: %s", call.pk, exc)
        return _fail(call, "room_create_failed")
    try:
        livekit.bridge_dispatch(call=call)
    except Exception as exc:  # noqa: BLE001 - a full or missing channel layer: nobody would talk to the callee
        logger.warning("call %s: the bridge could not be reached: %s", call.pk, exc)
        _hang_up_quietly(call)
        return _fail(call, "bridge_unreachable")
    call = call_transition(call=call, to=S.RINGING)
    try:
        async_to_sync(livekit.dial_out)(call, phone, trunk_id, max_duration_s=call.script.max_duration_s + 60)
    except livekit.LiveKitError as exc:
        logger.info("call %s: dialling failed: %s", call.pk, exc)
        _hang_up_quietly(call)
        reason = NOT_ANSWERED.get(exc.sip_status_code)
        if reason is not None:
            return _end_unanswered(call, reason)
        return _fail(call, f"sip_{exc.sip_status_code}" if exc.sip_status_code else "dial_failed")
    try:  # the bridge or the webhook may have seen the answer first
        return call_transition(call=call, to=S.IN_PROGRESS)
    except TransitionError:
        call.refresh_from_db()
        return call


def _fail(call: Call, reason: str) -> Call:
    try:
        return call_transition(call=call, to=S.FAILED, reason=reason)
    except TransitionError:
        call.refresh_from_db()
        return call


def _end_unanswered(call: Call, reason: str) -> Call:

    try:
        call = call_transition(call=call, to=S.NO_ANSWER, reason=reason)
    except TransitionError:
        call.refresh_from_db()
        return call
    tenant_id, call_id = call.tenant_id, str(call.pk)
    transaction.on_commit(lambda: call_finalize.delay(tenant_id, call_id))
    return call


def _hang_up_quietly(call: Call) -> None:
    """Delete the room so that the bridge leaves; a failure here changes nothing for the call."""
    try:
        async_to_sync(livekit.hang_up)(call)
    except livekit.LiveKitError as exc:
        logger.warning("call %s: the room could not be deleted: %s", call.pk, exc)
