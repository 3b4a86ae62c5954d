"""The distsync schema registry, driven by clients nobody here wrote: confluent-kafka-python's
SchemaRegistryClient, AvroSerializer and AvroDeserializer, plus its Producer, Consumer and
AdminClient against the local broker.

Each test gets its own registry process (the built binary, `DSYNC_SCHEMA_REGISTRY_BIN`, default
$CARGO_TARGET_DIR or target, then debug/schema-registry) on a free port with a fresh schemas topic, and its own Kafka
topics (created explicitly: the local broker never auto-creates topics).
"""

import json
import os
import pathlib
import socket
import subprocess
import time
import urllib.request
import uuid

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import (
    Schema,
    SchemaReference,
    SchemaRegistryClient,
    record_subject_name_strategy,
    topic_record_subject_name_strategy,
)
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

ROOT = pathlib.Path(__file__).resolve().parents[2]
BROKERS = (
    os.environ.get("DSYNC_TEST_BROKERS")
    or os.environ.get("KAFKA_BROKERS")
    or "127.0.0.1:9092"
)
BINARY = os.environ.get("DSYNC_SCHEMA_REGISTRY_BIN") or str(
    ROOT / os.environ.get("CARGO_TARGET_DIR", "target") / "debug" / "schema-registry"
)


def unique(name):
    return f"test-{name}-{uuid.uuid4().hex[:12]}"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def registry_url(tmp_path):
    """Starts the registry binary on a free port with a fresh schemas topic; stops it after."""
    port, admin_port = free_port(), free_port()
    log_path = tmp_path / "schema-registry.log"
    env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                BINARY,
                "--http-addr", f"127.0.0.1:{port}",
                "--admin-addr", f"127.0.0.1:{admin_port}",
                "--schemas-topic", unique("schemas"),
                "--kafka-brokers", BROKERS,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(
                f"schema registry exited with {proc.returncode}:\n{log_path.read_text()}"
            )
        try:
            with urllib.request.urlopen(url + "/subjects", timeout=1) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"schema registry did not answer:\n{log_path.read_text()}")
        time.sleep(0.1)
    try:
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, f"registry exit code {proc.returncode}:\n{log_path.read_text()}"


@pytest.fixture
def client(registry_url):
    return SchemaRegistryClient({"url": registry_url})


def record(name, fields, namespace="dsync.test"):
    return json.dumps(
        {"type": "record", "name": name, "namespace": namespace, "fields": fields}
    )


SHIPMENT_V1 = record(
    "Shipment",
    [
        {"name": "shipment_id", "type": "string"},
        {"name": "order_id", "type": "string"},
        {"name": "lines", "type": "int"},
    ],
)
SHIPMENT_V2 = record(
    "Shipment",
    [
        {"name": "shipment_id", "type": "string"},
        {"name": "order_id", "type": "string"},
        {"name": "lines", "type": "int"},
        {"name": "carrier", "type": "string", "default": "UNKNOWN"},
    ],
)
SHIPMENT_BROKEN = record(
    "Shipment",
    [
        {"name": "shipment_id", "type": "string"},
        {"name": "tracking", "type": "string"},
    ],
)
MONEY = record(
    "Money",
    [{"name": "cents", "type": "long"}, {"name": "currency", "type": "string"}],
    namespace="dsync.common",
)
PRICED = record(
    "Priced",
    [{"name": "sku", "type": "string"}, {"name": "price", "type": "dsync.common.Money"}],
)


def create_topic(name):
    admin = AdminClient({"bootstrap.servers": BROKERS})
    for future in admin.create_topics(
        [NewTopic(name, num_partitions=1, replication_factor=1)]
    ).values():
        future.result(timeout=30)
    # Wait until the topic shows in the metadata.
    deadline = time.monotonic() + 30
    while name not in admin.list_topics(timeout=10).topics:
        assert time.monotonic() < deadline, f"topic {name} not visible"
        time.sleep(0.1)


def produce(topic, values):
    producer = Producer({"bootstrap.servers": BROKERS, "enable.idempotence": True})
    for i, v in enumerate(values):
        producer.produce(topic, key=f"k{i}".encode(), value=v)
    assert producer.flush(30) == 0, "undelivered records"


def consume(topic, n):
    consumer = Consumer(
        {
            "bootstrap.servers": BROKERS,
            "group.id": unique("group"),
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 10,
        }
    )
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    out = []
    deadline = time.monotonic() + 30
    try:
        while len(out) < n:
            assert time.monotonic() < deadline, f"only {len(out)} of {n} records from {topic}"
            msg = consumer.poll(0.2)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            out.append(msg.value())
    finally:
        consumer.close()
    return out


def test_register_lookup_latest_and_fetch_by_id(registry_url, client):
    subject = "shipments-value"
    schema_id = client.register_schema(subject, Schema(SHIPMENT_V1, "AVRO"))
    assert schema_id == 1
    # A fresh client (no cache): the registry itself returns the same id for the same schema,
    # even laid out differently, and under another subject.
    fresh = SchemaRegistryClient({"url": registry_url})
    pretty = json.dumps(json.loads(SHIPMENT_V1), indent=2)
    assert fresh.register_schema(subject, Schema(pretty, "AVRO")) == schema_id
    assert fresh.register_schema("copy-value", Schema(SHIPMENT_V1, "AVRO")) == schema_id

    latest = fresh.get_latest_version(subject)
    assert latest.schema_id == schema_id
    assert latest.version == 1
    assert latest.subject == subject
    assert json.loads(latest.schema.schema_str) == json.loads(SHIPMENT_V1)
    assert latest.schema.schema_type == "AVRO"

    found = fresh.lookup_schema(subject, Schema(pretty, "AVRO"))
    assert (found.schema_id, found.version, found.subject) == (schema_id, 1, subject)

    by_id = fresh.get_schema(schema_id)
    assert json.loads(by_id.schema_str) == json.loads(SHIPMENT_V1)
    assert fresh.get_subjects() == ["copy-value", subject]
    assert fresh.get_versions(subject) == [1]
    assert fresh.get_version(subject, 1).schema_id == schema_id
    assert fresh.get_schema_types() == ["AVRO"]
    assert sorted(fresh.get_subjects_by_schema_id(schema_id)) == ["copy-value", subject]
    versions = fresh.get_schema_versions(schema_id)
    assert sorted((v.subject, v.version) for v in versions) == [("copy-value", 1), (subject, 1)]

    v2 = fresh.register_schema(subject, Schema(SHIPMENT_V2, "AVRO"))
    assert v2 == 2
    fresh.clear_latest_caches()
    assert fresh.get_latest_version(subject).version == 2


def test_compatibility_checks_and_levels(client):
    subject = "levels-value"
    client.register_schema(subject, Schema(SHIPMENT_V1, "AVRO"))
    assert client.get_compatibility() == "BACKWARD"
    assert client.test_compatibility(subject, Schema(SHIPMENT_V2, "AVRO")) is True
    assert client.test_compatibility(subject, Schema(SHIPMENT_BROKEN, "AVRO")) is False
    assert client.test_compatibility(subject, Schema(SHIPMENT_BROKEN, "AVRO"), version=1) is False
    assert client.test_compatibility_all_versions(subject, Schema(SHIPMENT_V2, "AVRO")) is True

    with pytest.raises(SchemaRegistryError) as e:
        client.register_schema(subject, Schema(SHIPMENT_BROKEN, "AVRO"))
    assert (e.value.http_status_code, e.value.error_code) == (409, 409)
    assert "READER_FIELD_MISSING_DEFAULT_VALUE" in e.value.error_message

    with pytest.raises(SchemaRegistryError) as e:
        client.get_compatibility(subject)
    assert e.value.error_code == 40408

    assert client.set_compatibility(subject, "none") == {"compatibility": "NONE"}
    assert client.get_compatibility(subject) == "NONE"
    assert client.get_config(subject).compatibility_level.value == "NONE"
    assert client.test_compatibility(subject, Schema(SHIPMENT_BROKEN, "AVRO")) is True
    assert client.register_schema(subject, Schema(SHIPMENT_BROKEN, "AVRO")) == 2

    assert client.set_compatibility(level="FULL_TRANSITIVE") == {"compatibility": "FULL_TRANSITIVE"}
    assert client.get_compatibility() == "FULL_TRANSITIVE"
    deleted = client.delete_config(subject)
    assert deleted.compatibility_level.value == "NONE"
    with pytest.raises(SchemaRegistryError) as e:
        client.set_compatibility(subject, "SIDEWAYS")
    assert (e.value.http_status_code, e.value.error_code) == (422, 42203)


def test_errors_come_back_as_schema_registry_errors(client):
    with pytest.raises(SchemaRegistryError) as e:
        client.get_latest_version("nobody")
    assert (e.value.http_status_code, e.value.error_code) == (404, 40401)
    with pytest.raises(SchemaRegistryError) as e:
        client.get_schema(4242)
    assert (e.value.http_status_code, e.value.error_code) == (404, 40403)
    client.register_schema("err-value", Schema(SHIPMENT_V1, "AVRO"))
    with pytest.raises(SchemaRegistryError) as e:
        client.get_version("err-value", 7)
    assert e.value.error_code == 40402
    with pytest.raises(SchemaRegistryError) as e:
        client.register_schema("err-value", Schema('{"type": "recrod"}', "AVRO"))
    assert (e.value.http_status_code, e.value.error_code) == (422, 42201)
    with pytest.raises(SchemaRegistryError) as e:
        client.register_schema("err-value", Schema('syntax = "proto3";', "PROTOBUF"))
    assert (e.value.http_status_code, e.value.error_code) == (422, 42201)
    assert "AVRO" in e.value.error_message


def test_soft_and_hard_deletes(client):
    subject = "del-value"
    client.register_schema(subject, Schema(SHIPMENT_V1, "AVRO"))
    v2 = client.register_schema(subject, Schema(SHIPMENT_V2, "AVRO"))
    assert client.delete_version(subject, 2) == 2
    assert client.get_versions(subject) == [1]
    assert client.get_versions(subject, deleted=True) == [1, 2]
    assert client.delete_subject(subject) == [1]
    assert client.get_subjects() == []
    assert client.get_subjects(deleted=True) == [subject]
    assert client.delete_subject(subject, permanent=True) == [1, 2]
    with pytest.raises(SchemaRegistryError) as e:
        SchemaRegistryClient(client.config()).get_schema(v2)
    assert e.value.error_code == 40403
    # Ids are never reused.
    other = record("Other", [{"name": "x", "type": "long"}])
    assert client.register_schema("other-value", Schema(other, "AVRO")) == 3


def test_references_register_and_serialize(client):
    money_id = client.register_schema("money", Schema(MONEY, "AVRO"))
    refs = [SchemaReference("dsync.common.Money", "money", 1)]
    topic = unique("prices")
    subject = f"{topic}-value"
    priced_id = client.register_schema(subject, Schema(PRICED, "AVRO", refs))
    assert priced_id != money_id
    latest = client.get_latest_version(subject)
    assert [(r.name, r.subject, r.version) for r in latest.schema.references] == [
        ("dsync.common.Money", "money", 1)
    ]
    assert client.get_referenced_by("money", 1) == [priced_id]

    ctx = SerializationContext(topic, MessageField.VALUE)
    # The serializer resolves the references through the registry.
    serializer = AvroSerializer(
        client,
        Schema(PRICED, "AVRO", refs),
        conf={"auto.register.schemas": False, "use.latest.version": True},
    )
    value = {"sku": "SKU-1", "price": {"cents": 1999, "currency": "EUR"}}
    data = serializer(value, ctx)
    assert data[0] == 0 and int.from_bytes(data[1:5], "big") == priced_id
    deserializer = AvroDeserializer(SchemaRegistryClient(client.config()))
    assert deserializer(data, ctx) == value


@pytest.mark.parametrize(
    "strategy, subject_of",
    [
        (topic_record_subject_name_strategy, lambda topic: f"{topic}-dsync.test.Shipment"),
        (record_subject_name_strategy, lambda topic: "dsync.test.Shipment"),
    ],
    ids=["topic_record_subject_name_strategy", "record_subject_name_strategy"],
)
def test_serialize_produce_consume_deserialize(client, registry_url, strategy, subject_of):
    topic = unique("shipments")
    create_topic(topic)
    conf = {"auto.register.schemas": True, "subject.name.strategy": strategy}
    ser_v1 = AvroSerializer(client, SHIPMENT_V1, conf=conf)
    ser_v2 = AvroSerializer(client, SHIPMENT_V2, conf=conf)
    ctx = SerializationContext(topic, MessageField.VALUE)
    v1 = {"shipment_id": "S-1", "order_id": "O-1", "lines": 3}
    v2 = {"shipment_id": "S-2", "order_id": "O-2", "lines": 1, "carrier": "UPS"}
    produce(topic, [ser_v1(v1, ctx), ser_v2(v2, ctx)])

    subject = subject_of(topic)
    other = SchemaRegistryClient({"url": registry_url})
    assert other.get_versions(subject) == [1, 2]
    ids = [other.get_version(subject, v).schema_id for v in (1, 2)]

    got = consume(topic, 2)
    assert [int.from_bytes(b[1:5], "big") for b in got] == ids
    # A reader without a schema gets each record as written...
    plain = AvroDeserializer(other)
    assert [plain(b, ctx) for b in got] == [v1, v2]
    # ...a reader on v1 resolves v2 data (the new field is dropped)...
    on_v1 = AvroDeserializer(other, schema_str=SHIPMENT_V1)
    assert [on_v1(b, ctx) for b in got] == [v1, {k: v2[k] for k in v1}]
    # ...and a reader on v2 fills the default into v1 data.
    on_v2 = AvroDeserializer(other, schema_str=SHIPMENT_V2)
    assert [on_v2(b, ctx) for b in got] == [dict(v1, carrier="UNKNOWN"), v2]
