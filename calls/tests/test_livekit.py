"""The LiveKit service against a local Twirp stand-in: requests, grants, errors; tokens; placing outbound calls."""

import datetime
import json

import jwt
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from calls import livekit, services
from calls.models import Call
from calls.outbound import call_start_outbound
from calls.tests.livekit_standin import API_KEY, API_SECRET, livekit_server_fixture  # noqa: F401 - fixture
from subprocessors.services import subprocessor_seed_defaults
from tenants.models import TenantSettings
from tenants.scope import tenant_scope
from tenants.services import tenant_create
from tenants.testing import drain_channel

# Every request to LiveKit carries a signed token that expires.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.clock]


@pytest.fixture
def tenant():
    tenant = tenant_create(name="Alpha", slug="alpha", legal_name="Alpha SAS")
    subprocessor_seed_defaults()  # the post-call report runs on the register's local engines
    with tenant_scope(tenant):
        TenantSettings.objects.filter(tenant=tenant).update(sip_outbound_trunk_id="ST_outbound",
                                                            human_transfer_number="+33123456789")
        yield tenant


@pytest.fixture
def call(tenant):
    script = services.demo_scripts_ensure(tenant=tenant)[0]
    contact = services.contact_create(tenant=tenant, phone="06 12 34 56 78", name="Jean Martin")
    return services.call_create(tenant=tenant, script=script, contact=contact, direction=Call.Direction.OUTBOUND)


@pytest.fixture
def bridge_inbox():
    """The messages sent to the bridge's worker channel, whichever channel layer is configured."""
    layer = get_channel_layer()
    async_to_sync(layer.flush)()
    messages = []

    def drain():
        messages.extend(drain_channel(livekit.BRIDGE_CHANNEL))
        return messages

    yield drain
    async_to_sync(layer.flush)()


# --- rooms ---------------------------------------------------------------------------------------------------------

async def test_room_create_names_the_room_after_the_call_and_keeps_only_its_id(livekit_server, call):
    room = await livekit.room_create(call)

    assert room.name == f"call-{call.pk}"
    [request] = livekit_server.calls("CreateRoom")
    assert request.content_type == "application/protobuf"
    assert request.body["name"] == f"call-{call.pk}"
    assert request.body["empty_timeout"] == livekit.ROOM_EMPTY_TIMEOUT_S
    assert request.body["departure_timeout"] == livekit.ROOM_DEPARTURE_TIMEOUT_S
    assert json.loads(request.body["metadata"]) == {"call_id": str(call.pk)}
    assert "Jean" not in json.dumps(request.body) and "612345678" not in json.dumps(request.body)
    assert request.claims["iss"] == API_KEY
    assert request.claims["video"]["roomCreate"] is True
    assert "sip" not in request.claims


async def test_hang_up_deletes_the_room_and_accepts_a_room_already_gone(livekit_server, call):
    await livekit.room_create(call)
    await livekit.hang_up(call)
    await livekit.hang_up(call)  # LiveKit answers not_found: the room is gone either way

    deletes = livekit_server.calls("DeleteRoom")
    assert [d.body["room"] for d in deletes] == [f"call-{call.pk}"] * 2
    assert f"call-{call.pk}" not in livekit_server.rooms


async def test_hang_up_of_an_inbound_room_uses_its_name(livekit_server, call):
    livekit_server.rooms.add("sip-inbound_+33100000000_abc")
    await livekit.hang_up(call, room="sip-inbound_+33100000000_abc")

    assert livekit_server.calls("DeleteRoom")[0].body["room"] == "sip-inbound_+33100000000_abc"


# --- SIP -----------------------------------------------------------------------------------------------------------

async def test_dial_out_asks_for_the_number_through_the_trunk_into_the_room(livekit_server, call):
    info = await livekit.dial_out(call, "+33612345678", "ST_outbound", max_duration_s=660)

    assert info.participant_identity == livekit.CALLER_IDENTITY
    [request] = livekit_server.calls("CreateSIPParticipant")
    body = request.body
    assert body["sip_trunk_id"] == "ST_outbound"
    assert body["sip_call_to"] == "+33612345678"
    assert body["room_name"] == f"call-{call.pk}"
    assert body["participant_identity"] == livekit.CALLER_IDENTITY
    assert body["hide_phone_number"] is True
    assert body["wait_until_answered"] is True
    assert body["ringing_timeout"] == "30s"
    assert body["max_call_duration"] == "660s"
    assert request.claims["sip"] == {"call": True, "admin": False}
    assert not request.claims["video"].get("roomAdmin") and not request.claims["video"].get("roomCreate")


async def test_a_busy_line_comes_back_as_an_error_with_the_sip_status(livekit_server, call):
    livekit_server.fail("CreateSIPParticipant", 400, "failed_precondition", "busy",
                        {"sip_status_code": "486", "sip_status": "Busy Here"})

    with pytest.raises(livekit.LiveKitError) as caught:
        await livekit.dial_out(call, "+33612345678", "ST_outbound")

    assert caught.value.sip_status_code == 486
    assert "486" in str(caught.value)


async def test_transfer_refers_the_caller_to_the_number(livekit_server, call):
    await livekit.transfer(call, "sip_caller", "+33123456789")

    [request] = livekit_server.calls("TransferSIPParticipant")
    assert request.body["transfer_to"] == "tel:+33123456789"
    assert request.body["participant_identity"] == "sip_caller"
    assert request.body["room_name"] == f"call-{call.pk}"
    assert request.claims["sip"]["call"] is True
    assert request.claims["video"]["roomAdmin"] is True
    assert request.claims["video"]["room"] == f"call-{call.pk}"


async def test_a_transfer_that_fails_raises(livekit_server, call):
    livekit_server.fail("TransferSIPParticipant", 400, "failed_precondition", "rejected",
                        {"sip_transfer_reason": "STR_REJECTED", "sip_status_code": "603"})

    with pytest.raises(livekit.LiveKitError, match="STR_REJECTED"):
        await livekit.transfer(call, "sip_caller", "+33123456789")


async def test_numbers_that_are_not_e164_are_refused_before_any_request(livekit_server, call):
    with pytest.raises(livekit.LiveKitError, match="E.164"):
        await livekit.dial_out(call, "06 12 34 56 78", "ST_outbound")
    with pytest.raises(livekit.LiveKitError, match="E.164"):
        await livekit.transfer(call, "sip_caller", "0123456789")
    assert livekit_server.requests == []


# --- errors --------------------------------------------------------------------------------------------------------

async def test_a_token_signed_with_the_wrong_secret_is_refused(livekit_server, call, settings):
    settings.LIVEKIT_API_SECRET = "not-the-secret-of-this-livekit-server-at-all"

    with pytest.raises(livekit.LiveKitError) as caught:
        await livekit.room_create(call)

    assert caught.value.status == 401 and caught.value.code == "unauthenticated"
    assert "refused to create the room" in str(caught.value)
    assert livekit_server.refused == [("CreateRoom", 401, "unauthenticated")]
    assert livekit_server.requests == []


async def test_missing_settings_are_named(call, settings):
    settings.LIVEKIT_URL, settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET = "http://127.0.0.1:9", "", ""

    with pytest.raises(livekit.LiveKitNotConfigured, match="LIVEKIT_API_KEY, LIVEKIT_API_SECRET"):
        await livekit.room_create(call)
    with pytest.raises(livekit.LiveKitNotConfigured):
        livekit.participant_token(call, "supervisor-1", can_publish=False, can_subscribe=True)


async def test_an_unreachable_server_is_a_livekit_error(call, settings):
    settings.LIVEKIT_URL, settings.LIVEKIT_API_KEY, settings.LIVEKIT_API_SECRET = "http://127.0.0.1:9", "k", "s" * 32

    with pytest.raises(livekit.LiveKitError, match="unreachable") as caught:
        await livekit.room_create(call)
    assert caught.value.code == "unavailable"


# --- tokens --------------------------------------------------------------------------------------------------------

def _decode(token):
    return jwt.decode(token, API_SECRET, algorithms=["HS256"], issuer=API_KEY)


def test_the_bridge_token_joins_one_room_and_publishes_the_microphone_only(livekit_server, call):
    claims = _decode(livekit.participant_token(call, livekit.AGENT_IDENTITY, can_publish=True, can_subscribe=True,
                                               ttl=datetime.timedelta(minutes=5)))

    assert claims["sub"] == livekit.AGENT_IDENTITY
    assert claims["video"] == {"roomJoin": True, "room": f"call-{call.pk}", "canPublish": True,
                               "canSubscribe": True, "canPublishData": False, "canPublishSources": ["microphone"]}
    assert "sip" not in claims
    assert claims["exp"] - claims["nbf"] == 300


def test_a_listener_token_only_subscribes(livekit_server, call):
    claims = _decode(livekit.participant_token(call, "supervisor-42", can_publish=False, can_subscribe=True,
                                               ttl=120))

    assert claims["video"] == {"roomJoin": True, "room": f"call-{call.pk}", "canPublish": False,
                               "canSubscribe": True, "canPublishData": False}
    assert claims["exp"] - claims["nbf"] == 120


# --- outbound calls ------------------------------------------------------------------------------------------------

def test_an_outbound_call_creates_the_room_sends_the_bridge_and_dials_the_contact(livekit_server, tenant, call,
                                                                                  bridge_inbox):
    contact, script = call.contact, call.script

    placed = call_start_outbound(tenant=tenant, script=script, contact=contact, legal_basis="consent")

    placed.refresh_from_db()
    assert placed.status == Call.Status.IN_PROGRESS and placed.legal_basis == "consent"
    room = f"call-{placed.pk}"
    assert [r.body["name"] for r in livekit_server.calls("CreateRoom")] == [room]
    [dial] = livekit_server.calls("CreateSIPParticipant")
    assert dial.body["sip_call_to"] == "+33612345678" and dial.body["sip_trunk_id"] == "ST_outbound"
    assert dial.body["room_name"] == room
    assert bridge_inbox() == [{"type": "call.join", "call_id": str(placed.pk), "tenant_id": tenant.pk,
                               "room": room}]


def test_an_outbound_call_without_a_trunk_fails_with_the_reason(livekit_server, tenant, call, bridge_inbox):
    TenantSettings.objects.filter(tenant=tenant).update(sip_outbound_trunk_id="")

    placed = call_start_outbound(tenant=tenant, script=call.script, contact=call.contact)

    placed.refresh_from_db()
    assert (placed.status, placed.end_reason) == (Call.Status.FAILED, "no_outbound_trunk")
    assert livekit_server.requests == [] and bridge_inbox() == []


def test_a_busy_contact_ends_as_no_answer_and_the_room_is_deleted(livekit_server, tenant, call, bridge_inbox):
    livekit_server.fail("CreateSIPParticipant", 400, "failed_precondition", "busy",
                        {"sip_status_code": "486", "sip_status": "Busy Here"})

    placed = call_start_outbound(tenant=tenant, script=call.script, contact=call.contact)

    placed.refresh_from_db()
    assert (placed.status, placed.end_reason) == (Call.Status.NO_ANSWER, "busy")
    assert [r.body["room"] for r in livekit_server.calls("DeleteRoom")] == [f"call-{placed.pk}"]
    assert placed.outcome == Call.Outcome.NO_RESULT  # the report task ran


def test_an_outbound_call_fails_when_livekit_refuses(livekit_server, tenant, call, bridge_inbox, settings):
    settings.LIVEKIT_API_SECRET = "not-the-secret-of-this-livekit-server-at-all"

    placed = call_start_outbound(tenant=tenant, script=call.script, contact=call.contact)

    placed.refresh_from_db()
    assert (placed.status, placed.end_reason) == (Call.Status.FAILED, "room_create_failed")
    assert bridge_inbox() == []
