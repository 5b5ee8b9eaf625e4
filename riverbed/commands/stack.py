"""``riverbed stack up | down | status``."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from pathlib import Path

import click
from aiokafka.errors import KafkaError

from core.errors import StackError
from core.kafka import connection_kwargs
from core.settings import get_settings
from riverbed.stack.acls import PRINCIPALS, acl_plan, create_acls
from riverbed.stack.kafka import Kafka
from riverbed.stack.kafka_cluster import MAX_NODES, bootstrap
from riverbed.stack.kafka_quorum import ClusterView, describe_cluster
from riverbed.stack.manager import ServiceStatus, Stack


def _say(message: str) -> None:
    click.echo(message, err=True)


def _table(rows: list[ServiceStatus]) -> None:
    click.echo(f"{'SERVICE':<10} {'ADDRESS':<18} {'STATE':<10} {'PID':<8} STARTUP")
    for r in rows:
        startup = f"{r.startup_seconds:.1f}s" if r.startup_seconds is not None else "-"
        click.echo(f"{r.name:<10} {r.address:<18} {r.state:<10} {r.pid or '-'!s:<8} {startup}")


@click.group("stack")
def command() -> None:
    """Run the local stack: Kafka (KRaft), PostgreSQL, FerretDB and Jaeger, no Docker needed."""


@command.command()
@click.option(
    "--secure",
    is_flag=True,
    help="Kafka with SASL_SSL (SCRAM-SHA-512 over TLS, local CA) and ACLs; for a new data dir.",
)
@click.option(
    "--brokers",
    type=click.IntRange(1, MAX_NODES),
    default=None,
    help="Kafka nodes: 3 runs a replicated KRaft cluster (replication 3, min.insync.replicas 2) "
    "on the Kafka ports + 100 and + 200. Default: what this data dir ran last, else 1.",
)
def up(secure: bool, brokers: int | None) -> None:
    """Provision (first run) and start every service; a no-op when all are up."""
    t0 = time.monotonic()
    stack = Stack(get_settings(), brokers=brokers)
    nodes = stack.kafka()
    kafka = nodes[0]
    if secure:
        for node in nodes:
            node.request_secure()
    try:
        rows = asyncio.run(stack.up(_say))
    except StackError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    _table(rows)
    click.echo(f"stack up in {time.monotonic() - t0:.1f}s", err=True)
    if len(nodes) > 1:
        _say(
            f"kafka: a {len(nodes)}-node cluster. Let clients bootstrap from any node:\n"
            f"  RIVERBED_KAFKA_BOOTSTRAP={bootstrap([n.node for n in nodes])}"
        )
    if kafka.secure:
        _secure_usage(kafka)


def _secure_usage(kafka: Kafka) -> None:
    """Where the secure broker's CA and credentials are, never the passwords."""
    files = kafka.secure_broker
    folder = files.directory
    with contextlib.suppress(ValueError):
        folder = folder.relative_to(Path.cwd())
    _say(
        f"kafka is secure (SASL_SSL, SCRAM-SHA-512). CA certificate: {folder}/ca.pem\n"
        f"  credentials, one file per principal (mode 0600): {folder}/<principal>.env for "
        f"{', '.join(PRINCIPALS)}\n"
        f"  run a component as its principal, e.g.:\n"
        f"    set -a; . {folder}/orders.env; set +a; uv run riverbed worker orders\n"
        f"    set -a; . {folder}/gateway.env; set +a; uv run riverbed gateway\n"
        f"  topics and ACLs are created as `admin` ({folder}/admin.env)"
    )


@command.command()
@click.option("--dry-run", is_flag=True, help="Print the ACLs instead of creating them.")
def acls(dry_run: bool) -> None:
    """Create secure mode's ACLs for the current topic and group prefixes (as admin).

    `stack up --secure` does this for its own broker; use it for another prefix or a
    broker started elsewhere (docker-compose), with the admin principal's settings.
    """
    settings = get_settings()
    plan = acl_plan(topic_prefix=settings.topic_prefix, group_prefix=settings.group_prefix)
    if dry_run:
        for binding in plan:
            click.echo(str(binding))
        return
    kwargs = connection_kwargs(settings, {})
    try:
        count = asyncio.run(create_acls(kwargs, plan))
    except (StackError, KafkaError, OSError) as exc:
        click.echo(f"error: creating ACLs at {settings.kafka_bootstrap}: {exc}", err=True)
        sys.exit(1)
    click.echo(f"{count} ACLs in place at {settings.kafka_bootstrap}", err=True)


@command.command()
@click.option("--wipe", is_flag=True, help="Also delete all data under the data dir.")
def down(wipe: bool) -> None:
    """Stop the services this stack started (a user's own servers are left alone)."""
    asyncio.run(Stack(get_settings()).down(_say, wipe=wipe))


@command.command()
def status() -> None:
    """Health of each service over its own protocol; exit 1 unless all answer."""
    stack = Stack(get_settings())
    rows = asyncio.run(stack.status())
    _table(rows)
    healthy = all(r.state in ("running", "external") for r in rows)
    nodes = stack.kafka()
    if len(nodes) > 1:
        view = asyncio.run(describe_cluster(nodes[0].cluster_client_kwargs()))
        click.echo(cluster_lines(view, [n.node.node_id for n in nodes]))
        healthy = healthy and not view.error and not view.offline
    sys.exit(0 if healthy else 1)


def cluster_lines(view: ClusterView, nodes: list[int]) -> str:
    """The quorum and replication lines of ``stack status`` for a cluster."""
    if view.error and view.leader is None and not view.brokers:
        return f"cluster: not answering ({view.error})"
    down = sorted(set(nodes) - set(view.brokers))
    lines = [
        f"cluster: brokers {view.brokers or '-'} registered"
        + (f"; not registered: {down}" if down else ""),
        f"quorum: leader {view.leader if view.leader is not None else '-'} "
        f"(epoch {view.epoch if view.epoch is not None else '-'}), voters {view.voters or '-'}"
        + (f", lagging {view.lagging_voters}" if view.lagging_voters else "")
        + (f" ({view.error})" if view.error else ""),
        f"partitions: {view.partitions}, under-replicated {len(view.under_replicated)}"
        + (
            f" ({', '.join(view.under_replicated[:8])}{' ...' if len(view.under_replicated) > 8 else ''})"
            if view.under_replicated
            else ""
        )
        + (f", offline {len(view.offline)}" if view.offline else ""),
    ]
    return "\n".join(lines)
