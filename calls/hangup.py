"""Hanging up a call from outside the live view (the partner API): the same command, recorded the same way."""

from __future__ import annotations

import logging
from functools import partial

from asgiref.sync import async_to_sync
from django.db import transaction
from django.utils.translation import gettext as _

from . import livekit
from .models import Call, SupervisorAction
from .services import SupervisionRefused, TransitionError, call_transition

logger = logging.getLogger(__name__)


def call_hang_up(*, call: Call, by: str) -> tuple[Call, bool]:
    """End a call for ``by`` (who asked, e.g. "api-key:1a2b3c4d"); return the call and whether it ended here.

    A call still queued or ringing is canceled at once. A call in progress is sent the hang-up command, which its
    transport (media socket or LiveKit bridge) carries out within seconds. Either way a supervisor action records
    it. A call that has ended is refused."""
    if call.is_over:
        raise SupervisionRefused(_("This call has ended (%(status)s): there is nothing to hang up.")
                                 % {"status": call.get_status_display()})
    if call.status in (Call.Status.QUEUED, Call.Status.RINGING):
        try:
            with transaction.atomic():
                call = call_transition(call=call, to=Call.Status.CANCELED, reason="hangup_api")
                _record(call, by)
                transaction.on_commit(partial(_send, call, by))
                if call.channel == Call.Channel.PHONE and call.direction == Call.Direction.OUTBOUND:
                    transaction.on_commit(partial(_delete_room, call))
            return call, True
        except TransitionError:  # it moved on meanwhile (answered, or ended)
            call.refresh_from_db()
            if call.is_over:
                raise SupervisionRefused(_("This call has ended (%(status)s): there is nothing to hang up.")
                                         % {"status": call.get_status_display()}) from None
    with transaction.atomic():
        _record(call, by)
        transaction.on_commit(partial(_send, call, by))
    return call, False


def _record(call: Call, by: str) -> None:
    """The live view records each command with its user; a caller without one is named in the note."""
    SupervisorAction.objects.create(tenant_id=call.tenant_id, call=call, user=None,
                                    action=SupervisorAction.Action.HANG_UP, note=_("By %(who)s") % {"who": by})


def _send(call: Call, by: str) -> None:
    """Tell the call's transport to hang up, and its watchers who did, as the live view does."""
    from channels.layers import get_channel_layer

    from .runner import call_group

    layer, group = get_channel_layer(), call_group(call.pk)
    try:
        async_to_sync(layer.group_send)(group, {"type": "call.command", "command": "hang_up"})
        async_to_sync(layer.group_send)(group, {"type": "call.event", "event": {
            "type": "supervisor", "command": "hang_up", "by": by}})
    except Exception as exc:  # noqa: BLE001 - a full or missing channel layer: the transport ends the call itself
        logger.warning("call %s: the hang-up could not be sent: %s", call.pk, exc)


def _delete_room(call: Call) -> None:
    """A canceled phone call may already have its room (and a ringing line): delete it; no room is fine."""
    try:
        async_to_sync(livekit.hang_up)(call)
    except livekit.LiveKitError as exc:
        logger.info("call %s: no room to delete (%s)", call.pk, exc)
