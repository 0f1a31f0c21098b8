"""The SQS chat envelope."""

import json

import pytest

from chalicelib.envelope import ENVELOPE_VERSION, ChatEnvelope, EnvelopeError
from tests.unit.support import make_envelope


def test_round_trip_keeps_every_field():
    envelope = make_envelope("Conn=", "größe 44 👟", client_message_id="c-7")

    assert ChatEnvelope.from_json(envelope.to_json()) == envelope


def test_json_carries_the_version_and_readable_unicode():
    data = make_envelope("Conn=", "größe").to_json()

    assert json.loads(data)["version"] == ENVELOPE_VERSION == 1
    assert "größe" in data


@pytest.mark.parametrize(
    ("body", "explanation"),
    [
        ("not json", "malformed"),
        ("[1, 2]", "malformed"),
        ('"text"', "malformed"),
        ('{"version": 2, "message_id": "m"}', "unsupported envelope version 2"),
        ('{"message_id": "m"}', "unsupported envelope version None"),
        ('{"version": 1, "message_id": "m"}', "malformed"),
        ('{"version": 1, "unexpected": true}', "malformed"),
    ],
)
def test_bad_bodies_raise_envelope_error(body, explanation):
    with pytest.raises(EnvelopeError, match=explanation):
        ChatEnvelope.from_json(body)
