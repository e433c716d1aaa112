"""The signature scheme: what sign() writes, verify() accepts exactly that, within the replay window."""

import pytest

from webhooks.signing import SignatureError, compute, headers, new_secret, sign, verify

SECRET = "whsec_test-secret"
BODY = '{"id":"d1","type":"report.ready","data":{"name":"Élodie Dupré"}}'.encode()
T = 1_795_860_000


def test_a_signed_body_verifies_and_gives_back_its_timestamp():
    header = sign(secrets=[SECRET], body=BODY, timestamp=T)
    assert header == f"t={T},v1={compute(SECRET, T, BODY)}"
    assert verify(SECRET, BODY, header, now=T) == T


def test_str_and_bytes_bodies_sign_the_same_utf8_bytes():
    assert sign(secrets=[SECRET], body=BODY.decode(), timestamp=T) == sign(secrets=[SECRET], body=BODY, timestamp=T)


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_timestamps_inside_the_tolerance_are_accepted(offset):
    header = sign(secrets=[SECRET], body=BODY, timestamp=T)
    assert verify(SECRET, BODY, header, now=T + offset) == T


@pytest.mark.parametrize("offset", [-301, 301, 86_400])
def test_timestamps_outside_the_tolerance_are_refused_as_replays(offset):
    header = sign(secrets=[SECRET], body=BODY, timestamp=T)
    with pytest.raises(SignatureError, match="tolerance"):
        verify(SECRET, BODY, header, now=T + offset)


def test_the_tolerance_is_the_receivers_choice():
    header = sign(secrets=[SECRET], body=BODY, timestamp=T)
    assert verify(SECRET, BODY, header, now=T + 600, tolerance_s=600) == T
    with pytest.raises(SignatureError):
        verify(SECRET, BODY, header, now=T + 60, tolerance_s=30)


def test_a_tampered_body_or_timestamp_is_refused():
    header = sign(secrets=[SECRET], body=BODY, timestamp=T)
    with pytest.raises(SignatureError, match="No signature matches"):
        verify(SECRET, BODY.replace(b"Dupr", b"Dupo"), header, now=T)
    moved = header.replace(f"t={T}", f"t={T + 10}")
    with pytest.raises(SignatureError, match="No signature matches"):
        verify(SECRET, BODY, moved, now=T)


def test_a_wrong_secret_is_refused():
    header = sign(secrets=[SECRET], body=BODY, timestamp=T)
    with pytest.raises(SignatureError, match="No signature matches"):
        verify("whsec_someone-else", BODY, header, now=T)


@pytest.mark.parametrize("header", ["", "garbage", f"t={T}", "v1=abc", f"t=soon,v1={'0' * 64}", f"t={T},v1="])
def test_a_malformed_header_is_refused(header):
    with pytest.raises(SignatureError, match="needs t="):
        verify(SECRET, BODY, header, now=T)


def test_after_a_rotation_both_the_old_and_the_new_secret_verify():
    old, new = "whsec_old", "whsec_new"
    header = sign(secrets=[new, old], body=BODY, timestamp=T)
    assert header.count("v1=") == 2
    assert verify(new, BODY, header, now=T) == T
    assert verify(old, BODY, header, now=T) == T
    with pytest.raises(SignatureError):
        verify("whsec_other", BODY, header, now=T)


def test_secrets_are_prefixed_random_and_long():
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(s.startswith("whsec_") and len(s) >= 40 for s in secrets)


def test_headers_carry_the_delivery_id_and_event():
    sent = headers(delivery_id="d1", event="report.ready", secrets=[SECRET], body=BODY, timestamp=T)
    assert sent["Callkom-Delivery"] == "d1"
    assert sent["Callkom-Event"] == "report.ready"
    assert verify(SECRET, BODY, sent["Callkom-Signature"], now=T) == T
    assert sent["Content-Type"].startswith("application/json")
