"""The Grafana dashboard: valid PromQL (promtool), only metrics Lethe exports, every alert plotted.

promtool comes from Debian's `prometheus` package (scripts/services installs it); these tests fail,
not skip, without it, as CI must run them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from support import REPO

from streams.metrics import Metrics, store_agent_metrics

GRAFANA = REPO / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "lethe.json"
ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"

# series Prometheus itself adds to every scrape that the dashboard and alerts may use
PROMETHEUS_SERIES = {"up"}


# -- helpers -----------------------------------------------------------------------------------------

def load_dashboard() -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return dashboard


def all_panels(container: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' nested (collapsed) panels included."""
    found = []
    for panel in container.get("panels", []):
        found.append(panel)
        found.extend(all_panels(panel))
    return found


def graph_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in all_panels(dashboard) if p.get("type") != "row"]


def dashboard_exprs(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """(record name, expr) for every query of every panel."""
    return [(f"lethe:dashboard:panel_{panel['id']}_{target['refId']}", target["expr"])
            for panel in graph_panels(dashboard) for target in panel["targets"] if target.get("expr")]


def alert_rules() -> list[dict[str, Any]]:
    rules = yaml.safe_load(ALERTS.read_text())
    return [rule for group in rules["groups"] for rule in group["rules"] if "alert" in rule]


def normalized(expr: str) -> str:
    return " ".join(str(expr).split())


def exported_series() -> set[str]:
    """Sample names a worker or a store agent exposes on /metrics, from the metric families' types."""
    metrics = Metrics()
    store_agent_metrics(metrics)
    suffixes = {"counter": ["_total", "_created"], "gauge": [""],
                "histogram": ["_bucket", "_sum", "_count", "_created"], "summary": ["", "_sum", "_count", "_created"],
                "info": ["_info"], "stateset": [""], "enum": [""], "unknown": [""]}
    names: set[str] = set()
    for family in metrics.registry.collect():
        family_names = {family.name + suffix for suffix in suffixes[family.type]}
        # the series a family already has (those without labels) must be among the computed names
        present = {sample.name for sample in family.samples}
        assert present <= family_names, (family.name, family.type, present - family_names)
        names |= family_names
    return names


PROMQL_KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
                   "offset", "bool", "inf", "nan", "atan2"}


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects: identifiers that are neither functions, keywords, label
    names (in {...}, by (...), on (...)), durations nor numbers."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)   # string literals
    text = re.sub(r"\{[^}]*\}", " ", text)                                              # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)                                             # ranges, subqueries
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][A-Za-z0-9_:]*", text):
        name = match.group()
        if name.lower() in PROMQL_KEYWORDS or re.match(r"\s*\(", text[match.end():]):
            continue
        names.add(name)
    return names


def unknown_metrics(exprs: list[str]) -> set[str]:
    known = exported_series() | PROMETHEUS_SERIES
    return {name for expr in exprs for name in metric_names(expr)} - known


def top_level_parts(expr: str) -> list[str]:
    """An expression split at its top-level `and`, `or` and `unless`."""
    parts, depth, quote, start, i = [], 0, "", 0, 0
    text = normalized(expr)
    while i < len(text):
        char = text[i]
        if quote:
            quote = "" if char == quote and text[i - 1] != "\\" else quote
        elif char in "\"'`":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0:
            keyword = re.match(r" (and|or|unless) ", text[i:])
            if keyword:
                parts.append(text[start:i])
                i += keyword.end()
                start = i
                continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def without_threshold(part: str) -> str:
    """`X > 300`, `X == 0`, `X > 14 * 86400` → `X`; an expression without a trailing comparison stays."""
    match = re.fullmatch(r"(.*?)\s*(?:==|!=|>=|<=|>|<)\s*(?:bool\s+)?[-+*/0-9.e\s]+", part)
    return match.group(1).strip() if match else part


def promtool_check(exprs: list[tuple[str, str]], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool is missing: install Debian's prometheus package (scripts/services does)"
    rules = {"groups": [{"name": "lethe-dashboard", "rules": [{"record": name, "expr": expr} for name, expr in exprs]}]}
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    return subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False)


# -- (a) structure ------------------------------------------------------------------------------------

def test_dashboard_loads_and_every_panel_has_a_title_and_a_query() -> None:
    dashboard = load_dashboard()
    assert dashboard["uid"] == "lethe" and dashboard["title"]
    assert 39 <= dashboard["schemaVersion"] < 45
    panels = all_panels(dashboard)
    assert len(graph_panels(dashboard)) >= 20
    for panel in panels:
        assert panel.get("title", "").strip(), panel
        if panel["type"] == "row":
            continue
        assert panel["type"] in {"timeseries", "stat", "gauge", "bargauge", "table"}, panel["title"]
        exprs = [t.get("expr", "").strip() for t in panel.get("targets", [])]
        assert exprs and all(exprs), f"panel {panel['title']!r} has a target without an expr"
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(set(ref_ids)) == len(ref_ids), panel["title"]
    ids = [p["id"] for p in panels]
    assert len(set(ids)) == len(ids), "panel ids repeat"
    titles = [p["title"] for p in graph_panels(dashboard)]
    assert len(set(titles)) == len(titles), "panel titles repeat"


def test_panels_do_not_overlap_and_fit_the_grid() -> None:
    boxes = [(p["title"], p["gridPos"]) for p in all_panels(load_dashboard())]
    for title, box in boxes:
        assert box["x"] >= 0 and box["w"] > 0 and box["x"] + box["w"] <= 24, title
    for i, (title_a, a) in enumerate(boxes):
        for title_b, b in boxes[i + 1:]:
            apart = (a["x"] + a["w"] <= b["x"] or b["x"] + b["w"] <= a["x"]
                     or a["y"] + a["h"] <= b["y"] or b["y"] + b["h"] <= a["y"])
            assert apart, f"{title_a!r} overlaps {title_b!r}"


def test_every_query_uses_the_provisioned_prometheus() -> None:
    dashboard = load_dashboard()
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    provisioned = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uids = {d["uid"] for d in provisioned["datasources"] if d["type"] == "prometheus"}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    assert variables["datasource"]["current"]["value"] in uids
    for panel in graph_panels(dashboard):
        for source in [panel.get("datasource")] + [t.get("datasource") for t in panel["targets"]]:
            assert source is not None, panel["title"]
            assert source["type"] == "prometheus", panel["title"]
            assert source["uid"] in uids | {"${datasource}"}, panel["title"]


def test_queries_are_plain_promql_without_grafana_variables() -> None:
    for name, expr in dashboard_exprs(load_dashboard()):
        assert "$" not in expr, f"{name}: {expr} (use fixed [5m] windows so the query is valid as written)"


# -- (b) every expression parses -------------------------------------------------------------------------

def test_every_dashboard_expression_is_valid_promql(tmp_path: Path) -> None:
    exprs = dashboard_exprs(load_dashboard())
    result = promtool_check(exprs, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(exprs)} rules found" in result.stdout, result.stdout


def test_promtool_check_rejects_a_broken_expression(tmp_path: Path) -> None:
    """The check above can fail: promtool rejects what is not PromQL."""
    result = promtool_check([("lethe:dashboard:broken", "sum by (topic (rate(lethe_records_in_total[5m]))")],
                            tmp_path)
    assert result.returncode != 0


# -- (c) only metrics Lethe exports ---------------------------------------------------------------------

def test_exported_series_are_computed_from_the_registry() -> None:
    names = exported_series()
    assert {"lethe_records_in_total", "lethe_consumer_lag", "lethe_batch_processing_seconds_bucket",
            "lethe_erasure_completion_seconds_count", "lethe_store_commands_total",
            "lethe_store_oldest_unacked_seconds", "lethe_transfers_total", "lethe_shares_total",
            "lethe_partner_commands_unacked", "lethe_partner_oldest_unacked_seconds"} <= names
    assert "lethe_records_in" not in names                 # a counter is exposed as <name>_total
    assert "lethe_consumer_lag_total" not in names         # a gauge is exposed under its own name
    assert "lethe_event_latency_seconds" not in names      # a histogram only as _bucket, _sum, _count


def test_metric_name_extraction() -> None:
    assert metric_names('sum by (topic) (rate(lethe_a_total{job="lethe_b", x=~"up"}[5m])) '
                        "/ clamp_min(up, 1e-9) > 14 * 86400") == {"lethe_a_total", "up"}
    assert metric_names('absent(up{job="lethe-worker"} == 1)') == {"up"}
    assert metric_names("histogram_quantile(0.99, sum without (instance) (rate(lethe_x_bucket[15m] offset 5m)))"
                        ) == {"lethe_x_bucket"}


def test_dashboard_names_only_metrics_lethe_exports() -> None:
    exprs = [expr for _, expr in dashboard_exprs(load_dashboard())]
    assert unknown_metrics(exprs) == set()
    named = {name for expr in exprs for name in metric_names(expr)}
    assert {"up"} | {n for n in named if n.startswith("lethe_")} == named


def test_a_misspelt_metric_is_caught() -> None:
    """The check above can fail: a typo in a dashboard query names a series nobody exports."""
    exprs = [expr for _, expr in dashboard_exprs(load_dashboard())]
    typo = [expr.replace("lethe_records_in_total", "lethe_records_inn_total") for expr in exprs]
    assert unknown_metrics(typo) == {"lethe_records_inn_total"}
    assert unknown_metrics(["sum(lethe_consumer_lag_total)", "rate(lethe_records_in[5m])"]) == {
        "lethe_consumer_lag_total", "lethe_records_in"}


def test_alert_rules_name_only_metrics_lethe_exports() -> None:
    exprs = [rule["expr"] for rule in alert_rules()]
    assert exprs
    assert unknown_metrics(exprs) == set()


# -- (d) every alert is on the dashboard ---------------------------------------------------------------------

def test_every_alert_has_a_panel_with_its_metrics() -> None:
    """A panel's queries, together, select every metric an alert uses."""
    panels = {panel["title"]: {name for target in panel["targets"] for name in metric_names(target["expr"])}
              for panel in graph_panels(load_dashboard())}
    for rule in alert_rules():
        wanted = metric_names(rule["expr"])
        assert wanted, rule["alert"]
        assert any(wanted <= names for names in panels.values()), (
            f"no panel plots {sorted(wanted)} (alert {rule['alert']})")


def test_every_alert_expression_is_plotted_as_the_alert_sees_it() -> None:
    """Each condition of an alert, without its threshold, is a dashboard query as written."""
    plotted = {normalized(expr) for _, expr in dashboard_exprs(load_dashboard())}
    for rule in alert_rules():
        for part in top_level_parts(rule["expr"]):
            condition = without_threshold(part)
            assert condition in plotted, f"alert {rule['alert']}: no panel plots {condition!r}"


def test_alert_conditions_are_split_from_their_thresholds() -> None:
    assert top_level_parts("sum by (t) (x) > 10000 and sum by (t) (delta(x[10m])) > 0") == [
        "sum by (t) (x) > 10000", "sum by (t) (delta(x[10m])) > 0"]
    assert top_level_parts('a{l="x or y"} > 0 or (b and c)') == ['a{l="x or y"} > 0', "(b and c)"]
    assert without_threshold("max(x) > 14 * 86400") == "max(x)"
    assert without_threshold('up{job="w"} == 0') == 'up{job="w"}'
    assert without_threshold("a / clamp_min(b, 1e-9) > 0.01") == "a / clamp_min(b, 1e-9)"
    assert without_threshold('absent(up{job="w"} == 1)') == 'absent(up{job="w"} == 1)'


# -- provisioning ----------------------------------------------------------------------------------------------

def test_provisioning_loads_this_dashboard_from_prometheus() -> None:
    sources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert sources["apiVersion"] == 1
    [prometheus] = sources["datasources"]
    assert (prometheus["type"], prometheus["uid"], prometheus["url"]) == ("prometheus", "prometheus",
                                                                          "http://prometheus:9090")
    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "lethe.yml").read_text())
    assert providers["apiVersion"] == 1
    [provider] = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"
