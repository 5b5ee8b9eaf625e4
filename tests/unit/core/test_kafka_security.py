"""Secure mode's pure parts: the ACL plan, settings to client arguments, the local CA,
the broker's properties and credential files."""

from __future__ import annotations

import ssl
import stat
from pathlib import Path

import faust
import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from pydantic import SecretStr

from core.kafka import KafkaSecurityError, broker_credentials, client_kwargs
from core.settings import Settings
from processors.kinds import KINDS, WORKER_TOPICS, topics_of
from riverbed.stack.acls import (
    GATEWAY,
    PRINCIPALS,
    WORKER_ACCESS,
    AclBinding,
    Operation,
    Pattern,
    Resource,
    acl_plan,
)
from riverbed.stack.base import StackPaths
from riverbed.stack.kafka_secure import SecureBroker, merge_properties
from riverbed.stack.tls import BROKER_CN, TlsFiles, write_local_ca
from schemas import (
    DLQ_TOPIC,
    INVENTORY_TOPIC,
    ORDER_DECISIONS_TOPIC,
    ORDERS_TOPIC,
    STOCK_ALERTS_TOPIC,
    TOPIC_PARTITIONS,
    VIEWING_TOPIC,
)

pytestmark = pytest.mark.unit


def settings(**values: object) -> Settings:
    return Settings.model_validate({"environment": "development", **values})


def ops(plan: list[AclBinding], principal: str, name: str) -> set[Operation]:
    return {b.operation for b in plan if b.principal == principal and b.name == name}


# --- the ACL plan -------------------------------------------------------------------------


def test_every_worker_kind_has_a_principal_and_reads_its_real_input() -> None:
    assert set(WORKER_ACCESS) == set(KINDS)
    for kind in WORKER_TOPICS:
        assert WORKER_ACCESS[kind].reads == topics_of(kind)
    assert set(PRINCIPALS) == {"admin", GATEWAY, *KINDS, "dashboard", "dlq"}
    every = {t for a in WORKER_ACCESS.values() for t in (*a.reads, *a.writes)}
    assert every <= set(TOPIC_PARTITIONS)


def test_gateway_may_only_write_and_describe_the_input_topics() -> None:
    plan = acl_plan(topic_prefix="p.", group_prefix="g")
    gateway = [b for b in plan if b.principal == GATEWAY]
    assert {b.name for b in gateway} == {
        f"p.{t}" for t in (ORDERS_TOPIC, INVENTORY_TOPIC, VIEWING_TOPIC)
    }
    assert {b.operation for b in gateway} == {Operation.WRITE, Operation.DESCRIBE}
    assert all(b.resource is Resource.TOPIC and b.pattern is Pattern.LITERAL for b in gateway)


def test_workers_read_inputs_write_outputs_and_own_their_group_and_internal_topics() -> None:
    plan = acl_plan(topic_prefix="p.", group_prefix="g")
    assert ops(plan, "orders", f"p.{ORDERS_TOPIC}") == {Operation.READ, Operation.DESCRIBE}
    for out in (ORDER_DECISIONS_TOPIC, STOCK_ALERTS_TOPIC, DLQ_TOPIC):
        assert ops(plan, "orders", f"p.{out}") == {Operation.WRITE, Operation.DESCRIBE}
        assert ops(plan, "inventory", f"p.{out}") == {Operation.WRITE, Operation.DESCRIBE}
    assert ops(plan, "viewing", f"p.{DLQ_TOPIC}") == {Operation.WRITE, Operation.DESCRIBE}
    assert ops(plan, "viewing", f"p.{ORDER_DECISIONS_TOPIC}") == set()
    assert ops(plan, "orders", f"p.{VIEWING_TOPIC}") == set()
    for kind in KINDS:
        group = [b for b in plan if b.principal == kind and b.resource is Resource.GROUP]
        assert [(b.name, b.operation, b.pattern) for b in group] == [
            (f"g-{kind}", Operation.READ, Pattern.LITERAL)
        ]
        internal = [b for b in plan if b.principal == kind and b.pattern is Pattern.PREFIXED]
        assert {b.name for b in internal} == {f"g-{kind}-"}  # faust's <app id>-... topics
        assert Operation.CREATE in {b.operation for b in internal}
    # Nobody but the super user gets anything on the cluster or on other groups.
    assert {b.resource for b in plan} == {Resource.TOPIC, Resource.GROUP}
    assert not [b for b in plan if b.principal == "admin"]


def test_the_dashboard_reads_and_describes_and_never_writes_or_joins_a_group() -> None:
    plan = acl_plan(topic_prefix="p.", group_prefix="g")
    mine = [b for b in plan if b.principal == "dashboard"]
    assert {b.operation for b in mine} == {Operation.READ, Operation.DESCRIBE}
    for name in TOPIC_PARTITIONS:
        assert Operation.DESCRIBE in ops(plan, "dashboard", f"p.{name}")
    # Reads: the alert and dead-letter tails, and each worker's main input (lag in seconds).
    readable = {b.name for b in mine if b.operation is Operation.READ}
    assert readable == {
        f"p.{t}"
        for t in (
            ORDERS_TOPIC,
            INVENTORY_TOPIC,
            VIEWING_TOPIC,
            ORDER_DECISIONS_TOPIC,  # the dispatch worker's
            STOCK_ALERTS_TOPIC,
            DLQ_TOPIC,
        )
    }
    groups = [(b.name, b.operation) for b in mine if b.resource is Resource.GROUP]
    assert sorted(groups) == [(f"g-{k}", Operation.DESCRIBE) for k in sorted(KINDS)]
    assert all(b.pattern is Pattern.LITERAL for b in mine)


def test_the_dashboard_may_read_every_topic_its_lag_sampler_reads() -> None:
    """Lag in seconds reads one message per partition of each group's topic: on the secure
    broker a topic without READ fails that sample (the dispatch group's was missing)."""
    plan = acl_plan(topic_prefix="p.", group_prefix="g")
    for kind, topic in WORKER_TOPICS.items():
        assert Operation.READ in ops(plan, "dashboard", f"p.{topic}"), kind
        assert ops(plan, "dashboard", f"g-{kind}") == {Operation.DESCRIBE}, kind


def test_the_dlq_tool_reads_the_dlq_and_writes_only_the_input_topics() -> None:
    plan = acl_plan(topic_prefix="p.", group_prefix="g")
    mine = [b for b in plan if b.principal == "dlq"]
    assert ops(plan, "dlq", f"p.{DLQ_TOPIC}") == {Operation.READ, Operation.DESCRIBE}
    writes = {b.name for b in mine if b.operation is Operation.WRITE}
    assert writes == {f"p.{t}" for t in (ORDERS_TOPIC, INVENTORY_TOPIC, VIEWING_TOPIC)}
    for out in (ORDER_DECISIONS_TOPIC, STOCK_ALERTS_TOPIC):
        assert ops(plan, "dlq", f"p.{out}") == set()
    assert {b.resource for b in mine} == {Resource.TOPIC}
    assert all(b.pattern is Pattern.LITERAL for b in mine)  # no worker-internal topics


def test_plan_is_sorted_and_without_duplicates() -> None:
    plan = acl_plan(topic_prefix="", group_prefix="riverbed")
    assert plan == sorted(set(plan))
    assert "User:gateway WRITE topic riverbed.orders" in {str(b) for b in plan}


# --- settings -> client arguments ---------------------------------------------------------


def test_plaintext_adds_nothing() -> None:
    plain = settings()
    assert client_kwargs(plain) == {}
    assert broker_credentials(plain) is None


def test_sasl_ssl_gives_scram_login_and_a_verifying_context(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path)
    write_local_ca(files, hosts=["127.0.0.1"])
    secure = settings(
        kafka_security_protocol="SASL_SSL",
        kafka_username="gateway",
        kafka_password="s3cret",
        kafka_ssl_cafile=files.ca_cert,
    )
    kwargs = client_kwargs(secure)
    context = kwargs.pop("ssl_context")
    assert kwargs == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "gateway",
        "sasl_plain_password": "s3cret",
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname
    assert context.verify_mode is ssl.CERT_REQUIRED

    creds = broker_credentials(secure)
    assert isinstance(creds, faust.SASLCredentials)
    assert (creds.username, creds.password) == ("gateway", "s3cret")
    assert creds.mechanism.value == "SCRAM-SHA-512"
    assert creds.protocol.value == "SASL_SSL"
    assert creds.ssl_context is not None


def test_sasl_plaintext_has_no_tls() -> None:
    s = settings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_username="u",
        kafka_password="p",
        kafka_sasl_mechanism="SCRAM-SHA-256",
    )
    assert "ssl_context" not in client_kwargs(s)
    creds = broker_credentials(s)
    assert creds is not None
    assert creds.protocol.value == "SASL_PLAINTEXT"


@pytest.mark.parametrize("missing", ["kafka_username", "kafka_password"])
def test_sasl_without_login_is_a_clear_error(missing: str) -> None:
    values: dict[str, object] = {
        "kafka_security_protocol": "SASL_SSL",
        "kafka_username": "u",
        "kafka_password": "p",
    }
    del values[missing]
    with pytest.raises(KafkaSecurityError, match="RIVERBED_KAFKA_USERNAME"):
        client_kwargs(settings(**values))


def test_missing_ca_file_is_a_clear_error(tmp_path: Path) -> None:
    s = settings(
        kafka_security_protocol="SASL_SSL",
        kafka_username="u",
        kafka_password="p",
        kafka_ssl_cafile=tmp_path / "nope.pem",
    )
    with pytest.raises(KafkaSecurityError, match="RIVERBED_KAFKA_SSL_CAFILE"):
        client_kwargs(s)


def test_password_is_a_secret() -> None:
    s = settings(kafka_password="hunter2-long")
    assert isinstance(s.kafka_password, SecretStr)
    assert "hunter2-long" not in repr(s)


# --- the local CA -------------------------------------------------------------------------


def test_local_ca_signs_a_broker_certificate_for_loopback(tmp_path: Path) -> None:
    files = TlsFiles(tmp_path / "secure")
    write_local_ca(files, hosts=["127.0.0.1", "localhost", "127.0.0.1"])
    ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
    chain = x509.load_pem_x509_certificates(files.keystore.read_bytes())
    broker = chain[0]
    broker.verify_directly_issued_by(ca)
    assert chain[1] == ca
    names = broker.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert names.get_values_for_type(x509.DNSName) == ["localhost"]
    assert broker.subject.rfc4514_string() == f"CN={BROKER_CN}"
    usage = broker.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH} <= set(usage)
    assert files.keystore.read_text().startswith("-----BEGIN PRIVATE KEY-----")  # PKCS#8
    for secret in (files.keystore, files.ca_key):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    # Python's own TLS stack accepts the CA (what every Riverbed client uses).
    ssl.create_default_context(cafile=str(files.ca_cert))


# --- broker properties and credential files -----------------------------------------------


def test_merge_properties_replaces_in_place_and_appends_the_rest() -> None:
    base = "# c\nlisteners=PLAINTEXT://h:1\nnum.partitions=4\n"
    merged = merge_properties(base, {"listeners": "SASL_SSL://h:1", "super.users": "User:admin"})
    lines = merged.splitlines()
    assert lines[:3] == ["# c", "listeners=SASL_SSL://h:1", "num.partitions=4"]
    assert lines[-1] == "super.users=User:admin"
    assert sum(line.startswith("listeners=") for line in lines) == 1


def test_secure_broker_files_and_properties(tmp_path: Path) -> None:
    s = settings(kafka_bootstrap="127.0.0.1:29192", data_dir=tmp_path)
    secure = SecureBroker(s, StackPaths.from_settings(s))
    assert not secure.enabled
    secure.prepare("127.0.0.1")
    assert secure.enabled
    assert stat.S_IMODE(secure.directory.stat().st_mode) == 0o700
    passwords = secure.passwords()
    assert set(passwords) == set(PRINCIPALS)
    assert len(set(passwords.values())) == len(PRINCIPALS)
    args = secure.scram_arguments()
    assert args[0::2] == ["--add-scram"] * len(PRINCIPALS)
    assert f"SCRAM-SHA-512=[name=gateway,password={passwords['gateway']}]" in args

    again = SecureBroker(s, StackPaths.from_settings(s))
    again.prepare("127.0.0.1")
    assert again.passwords() == passwords  # once per data dir

    props = secure.broker_properties("127.0.0.1", 29192, 29193)
    assert props["listeners"] == "SASL_SSL://127.0.0.1:29192,CONTROLLER://127.0.0.1:29193"
    assert props["listener.security.protocol.map"] == "CONTROLLER:SSL,SASL_SSL:SASL_SSL"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == f"User:admin;User:CN={BROKER_CN}"
    assert props["ssl.keystore.type"] == props["ssl.truststore.type"] == "PEM"

    gateway = secure.client_settings("gateway")
    assert gateway.kafka_security_protocol == "SASL_SSL"
    assert gateway.kafka_username == "gateway"
    assert gateway.kafka_password is not None
    assert gateway.kafka_password.get_secret_value() == passwords["gateway"]
    assert gateway.kafka_ssl_cafile == secure.tls.ca_cert
    assert gateway.kafka_bootstrap == "127.0.0.1:29192"


def test_a_secure_data_dir_from_before_the_read_side_principals_still_starts(
    tmp_path: Path,
) -> None:
    s = settings(kafka_bootstrap="127.0.0.1:29192", data_dir=tmp_path)
    secure = SecureBroker(s, StackPaths.from_settings(s))
    secure.prepare("127.0.0.1")
    for principal in ("dashboard", "dlq"):  # what such a data dir holds: no file for them
        secure.env_file(principal).unlink()
    old = SecureBroker(s, StackPaths.from_settings(s))
    assert set(old.passwords()) == set(PRINCIPALS) - {"dashboard", "dlq"}
    props = old.broker_properties("127.0.0.1", 29192, 29193)
    assert (
        old.passwords()["admin"] in props["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"]
    )
