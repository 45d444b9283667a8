"""The docker-compose stack, checked without a Docker engine: configs by promtool and hadolint,
the compose file against the Prometheus config and the API, and every PromQL expression of the
dashboard and the rules against a real Prometheus scraping three real APIs under load."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
import yaml
from conftest import REPO, running_api
from live_stack import SteadyTraffic, wait_for_rates
from metrics_text import samples, total
from prometheus_server import PROMTOOL, query, running_prometheus
from waiting import wait_until

DEPLOY = REPO / "deploy"
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
PROM_CONFIG = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
RULES = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())
DASHBOARD = json.loads((DEPLOY / "grafana" / "dashboards" / "streamflow.json").read_text())


def test_promtool_accepts_config_and_rules():
    for args in (
        ["check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
        ["check", "rules", str(DEPLOY / "prometheus" / "rules.yml")],
    ):
        proc = subprocess.run([PROMTOOL, *args], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_compose_parses_and_agrees_with_prometheus_and_the_api():
    services = COMPOSE["services"]
    assert set(services) == {"api", "postgres", "prometheus", "grafana"}
    for name, service in services.items():
        image = service.get("image", "")
        if name != "api":
            # PostgreSQL's releases are major.minor (16.4); the others' major.minor.patch.
            assert re.fullmatch(r"[\w./-]+:v?\d+\.\d+(\.\d+)?", image), f"{name} image not pinned: {image}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).exists(), f"{name} mounts a missing path {source}"
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"
    assert "ports" not in services["api"], "replicas must not fight over one host port"
    assert services["api"]["build"] == "."

    (job,) = PROM_CONFIG["scrape_configs"]
    (sd,) = job["dns_sd_configs"]
    assert sd["names"] == ["api"] and sd["type"] == "A"  # DNS finds every replica of the service
    cmd = (REPO / "Dockerfile").read_text()
    api_port = int(re.search(r'CMD \["streamflow-api", "--host", "0.0.0.0", "--port", "(\d+)"\]', cmd).group(1))
    assert sd["port"] == api_port and str(api_port) in services["api"]["expose"]
    assert PROM_CONFIG["rule_files"] == ["rules.yml"]
    mounts = {v.split(":")[1] for v in services["prometheus"]["volumes"]}
    assert {"/etc/prometheus/prometheus.yml", "/etc/prometheus/rules.yml"} <= mounts

    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())[
        "datasources"
    ][0]
    assert datasource["url"] == "http://prometheus:9090" and "127.0.0.1:9090:9090" in services["prometheus"]["ports"]
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/streamflow.yml").read_text())["providers"][0]
    assert provider["options"]["path"] in {v.split(":")[1] for v in services["grafana"]["volumes"]}


def test_compose_replicas_share_the_postgres_service_as_their_prediction_log():
    from urllib.parse import urlsplit

    api, pg = COMPOSE["services"]["api"], COMPOSE["services"]["postgres"]
    url = urlsplit(api["environment"]["STREAMFLOW_API_PREDICTION_LOG"])
    assert url.scheme == "postgresql" and url.hostname == "postgres" and url.password is None
    assert (url.username, url.path.lstrip("/")) == (
        pg["environment"]["POSTGRES_USER"],
        pg["environment"]["POSTGRES_DB"],
    )
    # One password, one secret file: the database's and the API's.
    (secret,) = api["secrets"]
    assert pg["secrets"] == [secret] and (REPO / COMPOSE["secrets"][secret]["file"]).is_file()
    assert api["environment"]["STREAMFLOW_API_PREDICTION_LOG_PASSWORD_FILE"] == f"/run/secrets/{secret}"
    assert pg["environment"]["POSTGRES_PASSWORD_FILE"] == f"/run/secrets/{secret}"
    # The replicas wait for a healthy database; its data lives in a named volume.
    assert api["depends_on"]["postgres"]["condition"] == "service_healthy" and "pg_isready" in pg["healthcheck"]["test"]
    (volume,) = pg["volumes"]
    assert volume.split(":")[0] in COMPOSE["volumes"] and volume.split(":")[1] == "/var/lib/postgresql/data"
    assert "[postgres]" in (REPO / "Dockerfile").read_text()  # the image has psycopg


def test_dockerfile_is_pinned_non_root_and_lint_clean():
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:\d+\.\d+\.\d+-slim-\w+$", text, re.M)
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert text.index("USER") < text.index("CMD [")
    assert not re.search(r"(PASSWORD|SECRET|TOKEN|API_KEY)\s*=", text, re.I)
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    proc = subprocess.run([hadolint, str(REPO / "Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _expressions() -> list[tuple[str, str]]:
    # Recording rules answer with data; alerting rules only while they fire (test_every_alert_expression_runs).
    exprs = [(f"rule {r['record']}", r["expr"]) for g in RULES["groups"] for r in g["rules"] if "record" in r]
    for panel in DASHBOARD["panels"]:
        for target in panel["targets"]:
            exprs.append((f"panel {panel['title']!r}", target["expr"].replace("$__rate_interval", "30s")))
    return exprs


@pytest.fixture(scope="module")
def three_replicas(tmp_path_factory):
    rules = tmp_path_factory.mktemp("prom") / "rules.yml"
    shutil.copy(DEPLOY / "prometheus" / "rules.yml", rules)
    with ExitStack() as stack:
        apis = [stack.enter_context(running_api()) for _ in range(3)]
        config = dict(PROM_CONFIG)
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        config["rule_files"] = [str(rules)]
        config["scrape_configs"] = [
            {"job_name": "streamflow-api", "static_configs": [{"targets": [a.removeprefix("http://") for a in apis]}]}
        ]
        prom = stack.enter_context(running_prometheus(yaml.safe_dump(config)))
        traffic = SteadyTraffic(apis, 30).start()
        stack.callback(traffic.stop)
        wait_for_rates(prom, 3)
        yield apis, prom, traffic


def test_every_dashboard_and_rule_expression_returns_data(three_replicas):
    _, prom, _ = three_replicas

    def without_data() -> list[str]:
        now = time.time()
        missing = [f"{where}: {expr}" for where, expr in _expressions() if not query(prom, expr, now)]
        records = [rule["record"] for group in RULES["groups"] for rule in group["rules"] if "record" in rule]
        return missing + [f"recorded series {r}" for r in records if not query(prom, r, now)]

    # Recorded series appear after the rules' first evaluations (every 1 s here), and panels over them after
    # a few more: until every expression answers, or fail naming the ones that do not.
    wait_until(
        lambda: not without_data(),
        30,
        "every dashboard and rule expression returns data",
        interval=0.5,
        seen=without_data,
    )
    instances = query(prom, "sum by (instance) (rate(api_requests_total[30s]))", time.time())
    assert len(instances) == 3


def test_every_alert_expression_runs(three_replicas):
    """Each alert's expression is valid PromQL over the recorded series (it returns data only while firing);
    the rules' drift expressions are checked against the console's in tests/test_fleet_drift.py."""
    _, prom, _ = three_replicas
    alerts = [r for g in RULES["groups"] for r in g["rules"] if "alert" in r]
    assert {a["alert"] for a in alerts} >= {"StreamflowFeatureDrift", "StreamflowRetrainingTriggered"}
    for alert in alerts:
        query(prom, alert["expr"], time.time())  # asserts status success
    # The served model's version has its drift rules in the file: the staleness alert's condition is empty.
    assert query(prom, next(a["expr"] for a in alerts if a["alert"] == "StreamflowDriftRulesStale"), time.time()) == []


def test_console_totals_equal_the_replicas_own_counters(three_replicas):
    apis, prom, traffic = three_replicas
    traffic.stop()

    def own_counts() -> dict[str, float]:
        return {
            a.removeprefix("http://"): total(
                samples(httpx.get(a + "/metrics").text), "api_requests_total", endpoint="/predict"
            )
            for a in apis
        }

    def scraped_counts() -> dict[str, float]:
        rows = query(prom, 'sum by (instance) (api_requests_total{endpoint="/predict"})', time.time())
        return {r["metric"]["instance"]: float(r["value"][1]) for r in rows}

    # The traffic has stopped: until Prometheus has scraped every replica's last count.
    wait_until(
        lambda: scraped_counts() == own_counts(),
        30,
        "Prometheus holds the replicas' final counts",
        interval=0.2,
        seen=scraped_counts,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "streamflow_tui.cli", "--once", "--json", "--prometheus-url", prom, "--window", "10"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    own = [total(samples(httpx.get(a + "/metrics").text), "api_requests_total", endpoint="/predict") for a in apis]
    console_predict = [x for x in doc["requests"]["by_series"] if x["endpoint"] == "/predict"]
    assert sum(x["total"] for x in console_predict) == sum(own)
    per_instance = {}
    for x in console_predict:
        per_instance[x["instance"]] = per_instance.get(x["instance"], 0) + x["total"]
    assert sorted(per_instance.values()) == sorted(own)
    assert set(per_instance) == {a.removeprefix("http://") for a in apis}
