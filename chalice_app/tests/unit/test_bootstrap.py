"""infra.bootstrap: the tables ensure_all creates (key schema, TTL) and the key-schema check, in-process moto."""

import boto3
import moto

from chalicelib.config import load, settings
from infra import bootstrap
from tests.conftest import REGION


def make_client(service):
    return boto3.client(service, region_name=REGION)


def frames_spec(config):
    (spec,) = [spec for spec in bootstrap.table_specs(config) if spec["name"] == config.frames_table]
    return spec


def test_the_frames_table_is_keyed_by_session_and_cursor_and_expires_on_ttl(mock_aws):
    name = settings().frames_table
    assert name in mock_aws.tables
    table = make_client("dynamodb").describe_table(TableName=name)["Table"]
    assert table["KeySchema"] == [
        {"AttributeName": "session_id", "KeyType": "HASH"},
        {"AttributeName": "cursor", "KeyType": "RANGE"},
    ]
    types = {d["AttributeName"]: d["AttributeType"] for d in table["AttributeDefinitions"]}
    assert types == {"session_id": "S", "cursor": "N"}
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = make_client("dynamodb").describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "ttl")


def test_every_table_has_the_key_schema_of_its_spec_and_a_second_ensure_all_keeps_it(mock_aws):
    dynamodb = make_client("dynamodb")
    again = bootstrap.ensure_all(make_client, settings(), 360)
    assert again.tables == mock_aws.tables == [spec["name"] for spec in bootstrap.table_specs(settings())]
    for spec in bootstrap.table_specs(settings()):
        table = dynamodb.describe_table(TableName=spec["name"])["Table"]
        assert bootstrap.key_schema_mismatch(spec, table) is None, spec["name"]
        hash_only = len(table["KeySchema"]) == 1
        assert hash_only is (spec["name"] != settings().frames_table)


def test_a_frames_table_without_the_cursor_sort_key_is_named():
    config = load({})
    with moto.mock_aws():
        dynamodb = make_client("dynamodb")
        dynamodb.create_table(
            TableName=config.frames_table,
            KeySchema=[{"AttributeName": "session_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "session_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        bootstrap.ensure_tables(dynamodb, config)  # an existing table is kept as it is: its key cannot change
        table = dynamodb.describe_table(TableName=config.frames_table)["Table"]
    assert bootstrap.key_schema_mismatch(frames_spec(config), table) == (
        "key (session_id HASH S), not (session_id HASH S, cursor RANGE N)"
    )


def test_a_cursor_of_the_wrong_type_is_named():
    spec = frames_spec(load({}))
    table = {
        "KeySchema": [
            {"AttributeName": "session_id", "KeyType": "HASH"},
            {"AttributeName": "cursor", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": "session_id", "AttributeType": "S"},
            {"AttributeName": "cursor", "AttributeType": "S"},
        ],
    }
    assert bootstrap.key_schema_mismatch(spec, table) == (
        "key (session_id HASH S, cursor RANGE S), not (session_id HASH S, cursor RANGE N)"
    )
