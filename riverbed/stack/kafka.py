"""Apache Kafka (KRaft) from Maven Central jars on the machine's Java: the single broker,
or one node of the ``stack up --brokers 3`` cluster (see :mod:`kafka_cluster`)."""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from string import Template
from typing import Any

from aiokafka import AIOKafkaClient

from core.errors import StackError
from core.kafka import client_kwargs, connection_kwargs
from core.settings import Settings
from riverbed.stack.acls import ADMIN, acl_plan, create_acls
from riverbed.stack.base import REPO_STACK_DIR, Say, Service, StackPaths, require_tool, run_step
from riverbed.stack.kafka_cluster import Node, cluster_id, layout
from riverbed.stack.kafka_secure import SecureBroker, merge_properties
from riverbed.stack.process import spawn, terminate

MIN_JAVA = 17


class Kafka(Service):
    """The broker; ``secure=True`` (``stack up --secure``) sets a new data dir up for
    SASL_SSL, and a data dir set up so stays secure (see :mod:`kafka_secure`)."""

    name = "kafka"
    marker = "kafka.Kafka"

    def __init__(
        self,
        settings: Settings,
        paths: StackPaths,
        *,
        secure: bool = False,
        node: Node | None = None,
    ) -> None:
        super().__init__(settings, paths)
        self.node = node or layout(settings)[0]
        self.name = self.node.name  # "kafka", or "kafka-<id>" for a cluster's node
        self.secure_broker = SecureBroker(settings, paths)
        self._secure_requested = secure

    def request_secure(self) -> None:
        self._secure_requested = True

    @property
    def secure(self) -> bool:
        return self._secure_requested or self.secure_broker.enabled

    @property
    def host(self) -> str:
        return self.node.host

    @property
    def port(self) -> int:
        return self.node.port

    def ports(self) -> list[int]:
        return [self.port, self.node.controller_port]

    @property
    def lib_dir(self) -> Path:
        return self.paths.cache / f"kafka-{self.settings.kafka_version}" / "lib"

    @property
    def home(self) -> Path:
        return self.paths.data / self.name

    async def healthy(self) -> bool:
        brokers = await self.brokers_seen()
        if brokers is None:
            return False
        if self.node.nodes == 1:  # may be a user's own broker, of any node id
            return bool(brokers)
        # A cluster's node serves once registered and unfenced: then it lists itself.
        return self.node.node_id in brokers

    async def brokers_seen(self) -> set[int] | None:
        """The broker ids this node's metadata lists; None when it does not answer."""
        # aiokafka logs every refused connection at ERROR; a probe expects refusals.
        quiet = logging.getLogger("aiokafka")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)
        try:
            client = AIOKafkaClient(
                bootstrap_servers=self.address,  # this node, not the cluster
                request_timeout_ms=3000,
                **self._admin_kwargs(),
            )
        except (OSError, KeyError, ValueError):  # secure mode before its files exist
            quiet.setLevel(level)
            return None
        try:
            await client.bootstrap()
            metadata = await client.fetch_all_metadata()
            return {b.nodeId for b in metadata.brokers()}
        except Exception:
            return None
        finally:
            with contextlib.suppress(Exception):
                await client.close()
            quiet.setLevel(level)

    def cluster_client_kwargs(self) -> dict[str, Any]:
        """Client arguments for the whole cluster (every node as bootstrap), as admin."""
        return {"bootstrap_servers": self.settings.kafka_bootstrap, **self._admin_kwargs()}

    def _admin_kwargs(self) -> dict[str, Any]:
        """Security arguments of the admin principal (none for a plaintext broker)."""
        if not self.secure:
            return {}
        return client_kwargs(self.secure_broker.client_settings(ADMIN))

    def provision(self, say: Say) -> None:
        java = require_tool(
            "java", fix="install a Java 17+ runtime: apt-get install -y openjdk-17-jre-headless"
        )
        check_java_version(java)
        if not (self.lib_dir / ".complete").exists():
            self._resolve_jars(say)
        formatted = (self.home / "data" / "meta.properties").exists()
        if self.secure and formatted and not self.secure_broker.enabled:
            raise StackError(
                f"kafka: the broker in {self.home} was set up without --secure",
                fix="use another RIVERBED_DATA_DIR for secure mode, or remove "
                f"{self.home} (its topics and data) and run `stack up --secure` again",
            )
        if not formatted:
            self._format(say, java)

    def _resolve_jars(self, say: Say) -> None:
        mvn = require_tool("mvn", fix="install Maven: apt-get install -y maven")
        say(
            f"kafka: resolving Apache Kafka {self.settings.kafka_version} jars from Maven Central (once)"
        )
        self.lib_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix="lib-", dir=self.lib_dir.parent))
        run_step(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(REPO_STACK_DIR / "kafka" / "pom.xml"),
                f"-Dkafka.version={self.settings.kafka_version}",
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={staging}",
            ],
            what="downloading Kafka jars with Maven",
            fix="check that Maven Central is reachable (proxy settings in ~/.m2/settings.xml), then run again",
            log_file=self.log_file,
        )
        (staging / ".complete").write_text(self.settings.kafka_version)
        shutil.rmtree(self.lib_dir, ignore_errors=True)
        staging.rename(self.lib_dir)

    def _java_args(
        self, java: str, main: str, *args: str, heap: str = "256m", short: bool = False
    ) -> list[str]:
        # A short-lived tool (format) starts faster on the C1 compiler alone and the serial
        # collector: 4.6 s instead of 6.5 s measured on the loaded 2-core machine, and a
        # cluster formats three nodes at once.
        jvm = ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"] if short else ["-XX:+UseG1GC"]
        return [
            java,
            f"-Xmx{heap}",
            "-Xms64m",
            *jvm,
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={REPO_STACK_DIR / 'kafka' / 'log4j2.properties'}",
            f"-Dkafka.logs.file={self.log_file}",
            "-cp",
            f"{self.lib_dir}/*",
            main,
            *args,
        ]

    def _format(self, say: Say, java: str) -> None:
        say(f"{self.name}: formatting KRaft storage")
        data = self.home / "data"
        data.mkdir(parents=True, exist_ok=True)
        scram: list[str] = []
        if self.secure:
            say(
                f"{self.name}: secure mode: creating a local CA, the broker certificate and passwords"
            )
            self.secure_broker.prepare(self.host)
            scram = self.secure_broker.scram_arguments()
        props = self._write_properties()
        fix = f"see {self.log_file}; `riverbed stack down --wipe` starts from empty storage"
        cid = cluster_id(self.paths.data, self.node.nodes)  # one id for every node
        args = self._java_args(
            java,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cid,
            "-c",
            str(props),
            *scram,
            short=True,
        )
        if not scram:
            run_step(args, what="formatting Kafka storage", fix=fix, log_file=self.log_file)
            return
        # run_step logs the command line, which holds the passwords: log it redacted.
        hide = list(self.secure_broker.passwords().values())
        with tempfile.TemporaryDirectory() as scratch:
            raw_log = Path(scratch) / "format.log"
            try:
                run_step(args, what="formatting Kafka storage", fix=fix, log_file=raw_log)
            except StackError as exc:
                raise StackError(_redact(exc.args[0], hide), fix=exc.fix) from None
            finally:
                if raw_log.exists():
                    with self.log_file.open("a") as log:
                        log.write(_redact(raw_log.read_text(), hide))

    def _write_properties(self) -> Path:
        template = Template((REPO_STACK_DIR / "kafka" / "server.properties").read_text())
        node = self.node
        text = template.substitute(
            host=self.host,
            port=self.port,
            controller_port=node.controller_port,
            node_id=node.node_id,
            voters=node.voters,
            replication=node.replication,
            min_isr=node.min_insync,
            log_dir=self.home / "data",
        )
        path = self.home / "server.properties"
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.secure:  # holds the admin password (inter-broker login)
            text = merge_properties(
                text,
                self.secure_broker.broker_properties(self.host, self.port, node.controller_port),
            )
            path.touch(mode=0o600)
            path.chmod(0o600)
        path.write_text(text)
        return path

    def start(self, say: Say) -> int:
        java = require_tool(
            "java", fix="install a Java 17+ runtime: apt-get install -y openjdk-17-jre-headless"
        )
        props = self._write_properties()
        mode = " (SASL_SSL, SCRAM-SHA-512)" if self.secure else ""
        say(f"{self.name}: starting broker on {self.address}{mode}")
        # A cluster's nodes get the small heap each: three of them share two cores.
        heap = self.settings.kafka_heap if self.node.nodes == 1 else self.settings.kafka_node_heap
        args = self._java_args(java, self.marker, str(props), heap=heap)
        return spawn(args, log_file=self.paths.logs / f"{self.name}.stdout.log")

    async def after_start(self, say: Say) -> None:
        """Secure mode: the ACLs and topics (as admin), once the broker answers; on a
        cluster, node 1 does it once every node is registered (topics get three replicas)."""
        if not self.secure or self.node.node_id != 1:
            return
        if not await self.healthy() or await self._registered() < self.node.nodes:
            raise ConnectionError("not answering yet")  # the manager retries
        from producers.topic_admin import ensure_topics  # the stack needs it only here

        admin = self.secure_broker.client_settings(ADMIN)
        plan = acl_plan(
            topic_prefix=self.settings.topic_prefix, group_prefix=self.settings.group_prefix
        )
        count = await create_acls(connection_kwargs(admin, {}), plan)
        created = await ensure_topics(admin)
        say(f"{self.name}: {count} ACLs in place; topics created: {len(created)}")

    async def _registered(self) -> int:
        """How many brokers the cluster lists now (0 when not answering)."""
        client = AIOKafkaClient(bootstrap_servers=self.address, **self._admin_kwargs())
        try:
            await client.bootstrap()
            return len((await client.fetch_all_metadata()).brokers())
        except Exception:
            return 0
        finally:
            with contextlib.suppress(Exception):
                await client.close()

    def stop(self, pid: int | None) -> None:
        if pid:
            terminate(pid, self.marker, timeout=30.0)

    def wipe(self) -> None:
        super().wipe()
        shutil.rmtree(self.secure_broker.directory, ignore_errors=True)


def _redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


def check_java_version(java: str) -> None:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    major = int(match.group(1)) if match else 0
    if major == 1 and match and match.group(2):
        major = int(match.group(2))
    if major < MIN_JAVA:
        raise StackError(
            f"Kafka 4 needs Java {MIN_JAVA} or newer; found {out.splitlines()[0] if out else 'none'}",
            fix="install a newer Java: apt-get install -y openjdk-17-jre-headless",
        )
