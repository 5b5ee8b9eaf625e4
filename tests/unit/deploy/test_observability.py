"""The alert rules and the Grafana dashboard: valid, tested, and about metrics that exist.

* ``promtool check rules`` and ``promtool test rules`` (Prometheus's own tool, from
  Debian's ``prometheus`` package; ``make setup`` installs it as root) on
  deploy/prometheus; every alert has test cases that fire and cases that do not.
* Every PromQL expression of the rules and of the dashboard's panels is valid (the
  panels' are checked by promtool as recording rules) and selects only metric names,
  and matches only labels, that the code defines: the definitions are read from the
  source (every ``Counter``/``Gauge``/``Histogram``/... of ``prometheus_client``), so a
  renamed metric fails here before an alert silently stops firing.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector

from core.settings import Settings
from dashboard.metrics import DashboardMetrics
from processors.runtime.metrics import WorkerMetrics
from producers.gateway.metrics import GatewayMetrics

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
ALERT_TESTS = PROMETHEUS / "alerts_test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "riverbed.json"
PACKAGES = ("core", "schemas", "stores", "producers", "processors", "dashboard", "riverbed")
# Labels Prometheus adds to every scraped series, and the series it makes itself.
TARGET_LABELS = frozenset({"job", "instance"})
SYNTHETIC = {"up": TARGET_LABELS}
# Grafana's variables, as a PromQL duration for checking.
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
PROMTOOL_MISSING = (
    "promtool is missing: it checks and tests the alert rules. Install Debian's "
    "`prometheus` package (`apt-get install prometheus`; `make setup` does it as root)."
)

# --- what the code exports -----------------------------------------------------------

_KINDS = {"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"}


def _suffixed(kind: str, name: str, labels: frozenset[str]) -> dict[str, frozenset[str]]:
    """The sample names a metric family of ``kind`` exposes, with their labels."""
    if kind == "Counter":
        base = name.removesuffix("_total")
        return {f"{base}_total": labels, f"{base}_created": labels}
    if kind == "Histogram":
        return {
            f"{name}_bucket": labels | {"le"},
            f"{name}_count": labels,
            f"{name}_sum": labels,
            f"{name}_created": labels,
        }
    if kind == "Summary":
        return {
            name: labels | {"quantile"},
            f"{name}_count": labels,
            f"{name}_sum": labels,
            f"{name}_created": labels,
        }
    if kind == "Info":
        return {f"{name}_info": labels}
    if kind == "Enum":
        return {name: labels | {name}}
    return {name: labels}


def _strings(node: ast.expr | None) -> frozenset[str]:
    if isinstance(node, ast.List | ast.Tuple):
        return frozenset(e.value for e in node.elts if isinstance(e, ast.Constant))
    return frozenset()


@functools.cache
def defined_metrics() -> dict[str, frozenset[str]]:
    """Every sample name the code's metric definitions expose -> its labels (with the
    target labels), read from the source of every package."""
    found: dict[str, frozenset[str]] = {}
    collectors = False
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "node_modules" in path.parts:
                continue
            tree = ast.parse(path.read_text(), str(path))
            imported = {
                alias.asname or alias.name
                for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module == "prometheus_client"
                for alias in node.names
            }
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                    continue
                kind = node.func.id
                if kind in {"ProcessCollector", "PlatformCollector"} and kind in imported:
                    collectors = True
                if kind not in _KINDS or kind not in imported or not node.args:
                    continue
                first = node.args[0]
                assert isinstance(first, ast.Constant) and isinstance(first.value, str), (
                    f"{path}:{node.lineno}: a metric name must be a literal to be checked"
                )
                labels = _strings(node.args[2] if len(node.args) > 2 else None)
                for kw in node.keywords:
                    if kw.arg == "labelnames":
                        labels = _strings(kw.value)
                found.update(_suffixed(kind, first.value, labels | TARGET_LABELS))
    if collectors:
        registry = CollectorRegistry()
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        for family in registry.collect():
            for sample in family.samples:
                found[sample.name] = frozenset(sample.labels) | TARGET_LABELS
    return found


# --- what the expressions use --------------------------------------------------------

_STRING = r'"(?:[^"\\]|\\.)*"'
_BRACES = re.compile(r"([A-Za-z_:][\w:]*)?\s*\{((?:[^{}\"]|" + _STRING + r")*)\}")
_MATCHER = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)\s*(" + _STRING + ")")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_IDENT = re.compile(r"(?<![\w.:])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "bool", "offset"}
_KEYWORDS |= {"group_left", "group_right", "inf", "nan", "Inf", "NaN"}


def selectors(expr: str) -> list[tuple[str, frozenset[str]]]:
    """(metric name, labels matched) of every vector selector in ``expr``."""
    found: list[tuple[str, frozenset[str]]] = []
    for name, body in _BRACES.findall(expr):
        matchers = dict(_MATCHER.findall(body))
        metric = json.loads(matchers.pop("__name__", '""'))
        if name and name not in _KEYWORDS:  # "and {__name__=...}": no name before {
            metric = name
        found.append((metric, frozenset(matchers)))
    rest = _GROUPING.sub(" ", _RANGE.sub(" ", re.sub(_STRING, " ", _BRACES.sub(" ", expr))))
    found += [(name, frozenset()) for name in _IDENT.findall(rest) if name not in _KEYWORDS]
    return found


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def panel_exprs() -> list[tuple[str, str]]:
    """(panel title, expression with Grafana's variables replaced) of every target."""
    dashboard = json.loads(DASHBOARD.read_text())
    found = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            assert "$" not in expr, f"{panel['title']}: unknown variable in {expr}"
            found.append((panel["title"], expr))
    return found


def promtool(*args: str, cwd: Path = PROMETHEUS) -> str:
    if shutil.which("promtool") is None:
        pytest.fail(PROMTOOL_MISSING)
    done = subprocess.run(
        ["promtool", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"promtool {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


# --- the tests -----------------------------------------------------------------------


def test_the_alert_rules_are_valid_and_pass_their_unit_tests() -> None:
    checked = promtool("check", "rules", ALERTS.name)
    assert f"SUCCESS: {len(alert_rules())} rules found" in checked
    assert "SUCCESS" in promtool("test", "rules", ALERT_TESTS.name)


def test_every_alert_is_tested_firing_and_staying_quiet() -> None:
    names = {rule["alert"] for rule in alert_rules()}
    cases = [
        case
        for test in yaml.safe_load(ALERT_TESTS.read_text())["tests"]
        for case in test.get("alert_rule_test", [])
    ]
    fires = {c["alertname"] for c in cases if c.get("exp_alerts")}
    quiet = {c["alertname"] for c in cases if not c.get("exp_alerts")}
    assert names == fires, f"alerts never shown firing: {names - fires}"
    assert names == quiet, f"alerts never shown quiet: {names - quiet}"
    # What the issue asks an operator to be paged for is there.
    for word in ("Lag", "DeadLetter", "WorkerDown", "GatewayErrors", "RateLimited", "Outbox"):
        assert any(word in name for name in names), word


def test_the_scrape_configuration_is_valid() -> None:
    assert "SUCCESS" in promtool("check", "config", "--syntax-only", "prometheus.yml")
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config["scrape_configs"]}
    used = set(re.findall(r'job="([^"]+)"', ALERTS.read_text()))
    assert used <= jobs, f"alerts name jobs the configuration does not scrape: {used - jobs}"


def test_every_panel_expression_is_valid_promql(tmp_path: Path) -> None:
    exprs = panel_exprs()
    assert len(exprs) >= 15
    rules = {
        "groups": [
            {
                "name": "grafana-panels",
                "rules": [
                    {"record": f"riverbed:panel_{n}", "expr": expr}
                    for n, (_title, expr) in enumerate(exprs)
                ],
            }
        ]
    }
    (tmp_path / "panels.yml").write_text(yaml.safe_dump(rules))
    assert f"SUCCESS: {len(exprs)} rules found" in promtool(
        "check", "rules", "panels.yml", cwd=tmp_path
    )


def test_every_expression_selects_only_exported_metrics_and_their_labels() -> None:
    exported = defined_metrics() | SYNTHETIC
    exprs = [(rule["alert"], rule["expr"]) for rule in alert_rules()] + panel_exprs()
    problems = []
    used = set()
    for where, expr in exprs:
        for name, labels in selectors(expr):
            used.add(name)
            if name not in exported:
                problems.append(f"{where}: {name} is not a metric the code exports")
            elif not labels <= exported[name]:
                problems.append(f"{where}: {name} has no label {sorted(labels - exported[name])}")
    assert problems == []
    # The figures the issue names are all watched.
    for name in (
        "riverbed_consumer_group_lag_seconds",
        "riverbed_dead_letters_total",
        "up",
        "riverbed_gateway_requests_total",
        "riverbed_outbox_backlog_events",
        "riverbed_gateway_publish_seconds_bucket",
        "riverbed_gateway_events_refused_total",
    ):
        assert name in used, name


def test_the_source_reading_finds_every_metric_the_registries_expose() -> None:
    defined = defined_metrics()
    for registry in (
        WorkerMetrics(Settings(metrics_port=0), "orders").registry,
        GatewayMetrics().registry,
        DashboardMetrics().registry,
    ):
        for family in registry.collect():
            suffix = {"counter": "_total", "histogram": "_bucket", "info": "_info"}
            assert family.name + suffix.get(family.type, "") in defined, family.name
    assert defined["riverbed_gateway_requests_total"] == TARGET_LABELS | {
        "route",
        "method",
        "status",
    }
    assert "le" in defined["riverbed_flush_seconds_bucket"]


def test_selectors_are_read_from_any_expression_shape() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (worker, le) (rate(riverbed_flush_seconds_bucket{worker="x",'
        ' le!~"+Inf"}[5m:1m]))) / on(instance) group_left(job) up offset 5m'
        ' and {__name__="riverbed_a_total", status=~"5.."} > bool 1e3'
        ' or absent(riverbed_b) unless count_values("v", riverbed_c)'
    )
    assert sorted(selectors(expr)) == [
        ("riverbed_a_total", frozenset({"status"})),
        ("riverbed_b", frozenset()),
        ("riverbed_c", frozenset()),
        ("riverbed_flush_seconds_bucket", frozenset({"worker", "le"})),
        ("up", frozenset()),
    ]
