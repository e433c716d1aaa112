"""LiveKit webhooks: signed exactly as LiveKit signs them, driving the call lifecycle; refusals; inbound calls."""

import base64
import datetime
import hashlib
import time
import uuid

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.cache import cache
from google.protobuf.json_format import MessageToJson
from livekit import api

from calls import livekit, services
from calls.models import Call, CallReport, InboundNumber
from subprocessors.services import subprocessor_seed_defaults
from tenants.scope import all_tenants_scope, tenant_scope
from tenants.services import tenant_create
from tenants.testing import drain_channel

# LiveKit signs every webhook with a token that expires.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.clock]

KEY, SECRET = "APIwebhooks", "webhook-secret-that-is-long-enough-for-hs256"
URL = "/livekit/webhook/"
SIP = api.ParticipantInfo.Kind.SIP


@pytest.fixture(autouse=True)
def _livekit(settings):
    settings.LIVEKIT_URL, settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET = "wss://lk.test", KEY, SECRET
    cache.clear()
    layer = get_channel_layer()
    async_to_sync(layer.flush)()
    yield
    async_to_sync(layer.flush)()


@pytest.fixture
def alpha():
    subprocessor_seed_defaults()
    return tenant_create(name="Alpha", slug="alpha", legal_name="Alpha SAS")


@pytest.fixture
def beta():
    return tenant_create(name="Beta", slug="beta", legal_name="Beta SARL")


@pytest.fixture
def call(alpha):
    with tenant_scope(alpha):
        script = services.demo_scripts_ensure(tenant=alpha)[0]
        return services.call_create(tenant=alpha, script=script, direction=Call.Direction.OUTBOUND)


def event(kind, room, *, participant=None, created_at=None, event_id=None, metadata=""):
    message = api.WebhookEvent(event=kind, id=event_id or f"EV_{uuid.uuid4().hex[:12]}",
                               created_at=int(time.time()) if created_at is None else created_at,
                               room=api.Room(name=room, sid="RM_test", metadata=metadata))
    if participant is not None:
        message.participant.CopyFrom(participant)
    return MessageToJson(message)


def sip_participant(status="active", **attributes):
    return api.ParticipantInfo(sid="PA_sip", identity="sip_caller", kind=SIP,
                               attributes={"sip.callStatus": status, **attributes})


def agent():
    return api.ParticipantInfo(sid="PA_agent", identity=livekit.AGENT_IDENTITY, kind=api.ParticipantInfo.Kind.AGENT)


def sign(body, *, secret=SECRET):
    """Sign a body as LiveKit does: a short-lived JWT from the API key whose sha256 claim is the body's digest."""
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    return (api.AccessToken(KEY, secret).with_sha256(digest).with_ttl(datetime.timedelta(minutes=5)).to_jwt())


def post(client, body, *, token=None, **extra):
    token = sign(body) if token is None else token
    headers = {"HTTP_AUTHORIZATION": token} if token else {}
    return client.post(URL, data=body, content_type="application/webhook+json", **headers, **extra)


def status_of(call):
    with all_tenants_scope("test"):
        return Call.objects.values_list("status", "end_reason").get(pk=call.pk)


def room_of(call):
    return f"call-{call.pk}"


def bridge_messages():
    return drain_channel(livekit.BRIDGE_CHANNEL)


# --- the lifecycle -------------------------------------------------------------------------------------------------

def test_events_drive_a_call_from_queued_to_completed_and_its_report_is_written(client, call):
    assert post(client, event("room_started", room_of(call))).json() == {"detail": "ignored"}
    assert status_of(call) == ("queued", "")

    assert post(client, event("participant_joined", room_of(call), participant=sip_participant())).status_code == 200
    assert status_of(call) == ("in_progress", "")

    response = post(client, event("participant_left", room_of(call), participant=sip_participant("hangup")))
    assert response.json() == {"detail": "completed"}
    assert status_of(call) == ("completed", "caller_hung_up")
    with tenant_scope(call.tenant):  # call_finalize ran
        assert CallReport.objects.filter(call=call).exists()
        assert Call.objects.get(pk=call.pk).outcome == Call.Outcome.NO_RESULT

    assert post(client, event("room_finished", room_of(call))).json() == {"detail": "unchanged"}


def test_a_call_that_is_never_answered_ends_as_no_answer(client, call):
    post(client, event("participant_joined", room_of(call), participant=sip_participant("dialing")))
    assert status_of(call) == ("ringing", "")

    post(client, event("participant_left", room_of(call), participant=sip_participant("hangup")))
    assert status_of(call) == ("no_answer", "caller_hung_up")


def test_while_the_bridge_is_in_the_room_it_ends_the_call_itself(client, call):
    post(client, event("participant_joined", room_of(call), participant=agent()))
    post(client, event("participant_joined", room_of(call), participant=sip_participant()))

    response = post(client, event("participant_left", room_of(call), participant=sip_participant("hangup")))
    assert response.json() == {"detail": "left to the bridge"}
    assert status_of(call) == ("in_progress", "")

    post(client, event("participant_left", room_of(call), participant=agent()))
    post(client, event("room_finished", room_of(call)))  # the bridge died without ending it: the room does
    assert status_of(call) == ("completed", "room_finished")


def test_the_room_metadata_identifies_a_call_too(client, call):
    body = event("participant_joined", "renamed-room", participant=sip_participant(),
                 metadata=f'{{"call_id": "{call.pk}"}}')
    post(client, body)
    assert status_of(call) == ("in_progress", "")


# --- refusals ------------------------------------------------------------------------------------------------------

def test_unsigned_forged_or_tampered_webhooks_are_refused_and_change_nothing(client, call):
    body = event("participant_joined", room_of(call), participant=sip_participant())
    other = event("room_finished", room_of(call))

    unsigned = post(client, body, token="")
    forged = post(client, body, token=sign(body, secret="someone-elses-secret-that-is-long-enough"))
    tampered = post(client, other, token=sign(body))
    garbage = post(client, body, token="Bearer not.a.jwt")

    for response in (unsigned, forged, tampered, garbage):
        assert response.status_code == 401
        assert response["Content-Type"] == "application/json"
        assert response.json()["detail"]
    assert status_of(call) == ("queued", "")


def test_a_replayed_event_is_refused(client, call):
    body = event("participant_joined", room_of(call), participant=sip_participant())
    assert post(client, body).status_code == 200

    again = post(client, body)
    assert again.status_code == 409
    assert "already" in again.json()["detail"]


def test_a_stale_event_is_refused(client, call):
    body = event("participant_joined", room_of(call), participant=sip_participant(),
                 created_at=int(time.time()) - 6 * 60)

    response = post(client, body)
    assert response.status_code == 400
    assert status_of(call) == ("queued", "")


@pytest.mark.parametrize("body", ["{not json", '{"event": 5}', "[]", ""])
def test_a_malformed_body_is_a_400_never_a_500(client, call, body):
    response = post(client, body)
    assert response.status_code == 400
    assert response.json()["detail"]


def test_a_body_that_is_not_utf8_is_a_400(client):
    response = client.post(URL, data=b"\xff\xfe{}", content_type="application/webhook+json",
                           HTTP_AUTHORIZATION="x.y.z")
    assert response.status_code == 400


def test_only_post_is_accepted(client):
    assert client.get(URL).status_code == 405


def test_without_livekit_settings_webhooks_are_refused(client, call, settings):
    settings.LIVEKIT_API_SECRET = ""
    response = post(client, event("room_finished", room_of(call)))
    assert response.status_code == 503
    assert status_of(call) == ("queued", "")


# --- inbound calls and unknown rooms -------------------------------------------------------------------------------

def test_an_inbound_call_to_a_known_number_is_created_in_its_tenant_and_the_bridge_sent(client, alpha, beta):
    with tenant_scope(beta):
        script = services.demo_scripts_ensure(tenant=beta)[1]
        InboundNumber.objects.create(tenant=beta, number="+33198765432", script=script)
    room = "_+33611111111_Xy12"
    caller = sip_participant(**{"sip.trunkPhoneNumber": "+33198765432", "sip.phoneNumber": "+33611111111"})

    response = post(client, event("participant_joined", room, participant=caller))

    assert response.json() == {"detail": "inbound call created"}
    with tenant_scope(beta):
        [call] = Call.objects.all()
    with tenant_scope(alpha):
        assert not Call.objects.exists()
    assert (call.direction, call.status, call.script_id, call.contact_id) == ("inbound", "in_progress", script.pk, None)
    assert call.legal_basis == beta.settings.default_legal_basis
    assert bridge_messages() == [{"type": "call.join", "call_id": str(call.pk), "tenant_id": beta.pk,
                                  "room": room}]

    # the same room again creates nothing; its end ends the call
    post(client, event("participant_joined", room, participant=caller))
    with tenant_scope(beta):
        assert Call.objects.count() == 1
    post(client, event("participant_left", room, participant=caller))
    assert status_of(call) == ("completed", "caller_hung_up")


def test_a_dialled_number_without_plus_is_found(client, beta):
    with tenant_scope(beta):
        script = services.demo_scripts_ensure(tenant=beta)[0]
        InboundNumber.objects.create(tenant=beta, number="+33198765432", script=script)

    post(client, event("participant_joined", "inbound-1",
                       participant=sip_participant(**{"sip.trunkPhoneNumber": "33198765432"})))

    with tenant_scope(beta):
        assert Call.objects.filter(direction="inbound").count() == 1


def test_unknown_rooms_and_numbers_are_ignored(client, alpha):
    unknown_number = sip_participant(**{"sip.trunkPhoneNumber": "+33100000000"})
    for body in (event("participant_joined", "inbound-2", participant=unknown_number),
                 event("participant_joined", f"call-{uuid.uuid4()}", participant=sip_participant()),
                 event("room_finished", "call-not-a-uuid"),
                 event("track_published", "someone-elses-room")):
        response = post(client, body)
        assert response.status_code == 200
        assert response.json() == {"detail": "ignored"}
    with all_tenants_scope("test"):
        assert not Call.objects.exists()
    assert bridge_messages() == []
