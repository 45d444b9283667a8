"""The Kubernetes manifests of deploy/k8s, checked without a cluster: every object against the official
JSON schema of the Kubernetes API (kubernetes-validate, strict: an unknown field is an error), the
Prometheus Operator objects (no schema bundled) structurally, and the manifests against each other,
the Dockerfile, the API (run with the Deployment's command and environment) and ``streamflow-load``'s
own command line. Nothing here is applied to a cluster."""

from __future__ import annotations

import fnmatch
import functools
import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import kubernetes_validate
import pytest
import yaml
from conftest import REPO, free_port, running_api
from metrics_text import samples
from waiting import wait_until

K8S = REPO / "deploy" / "k8s"
OPERATOR = K8S / "prometheus-operator"
# The oldest Kubernetes the manifests claim (the Job pods' batch.kubernetes.io/controller-uid label,
# used as the run id, is 1.27's) and the newest whose schema kubernetes-validate bundles.
KUBERNETES_VERSIONS = ("1.27.0", "1.37.0")
LOAD_HELP = (sys.executable, "-m", "loadgen.cli", "--help")
MERGE_HELP = (sys.executable, "-m", "loadgen.cli", "merge", "--help")


def _load(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


KUSTOMIZATION = yaml.safe_load((K8S / "kustomization.yaml").read_text())
CORE = {p.name: _load(p) for p in sorted(K8S.glob("*.yaml")) if p.name != "kustomization.yaml"}
MONITORS = {p.name: _load(p) for p in sorted(OPERATOR.glob("*.yaml"))}
ALL_DOCS = [(name, doc) for files in (CORE, MONITORS) for name, docs in files.items() for doc in docs]


def obj(kind: str, name: str) -> dict:
    found = [d for _, d in ALL_DOCS if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"want exactly one {kind}/{name} in deploy/k8s, found {len(found)}"
    return found[0]


DEPLOYMENT = obj("Deployment", "streamflow-api")
SERVICE = obj("Service", "streamflow-api")
LOAD_JOB = obj("Job", "streamflow-load")
MERGE_JOB = obj("Job", "streamflow-load-merge")
PVC = obj("PersistentVolumeClaim", "streamflow-load-results")
SERVICE_MONITOR = obj("ServiceMonitor", "streamflow-api")
POD_MONITOR = obj("PodMonitor", "streamflow-load")


def pod_spec(workload: dict) -> dict:
    return workload["spec"]["template"]["spec"]


def container(workload: dict, name: str) -> dict:
    (c,) = [c for c in pod_spec(workload)["containers"] if c["name"] == name]
    return c


def named_ports(c: dict) -> dict[str, int]:
    return {p["name"]: p["containerPort"] for p in c.get("ports", [])}


def flag_values(args: list[str]) -> dict[str, str | None]:
    """{"--flag": value or None} for an argv written as separate "--flag", "value" items."""
    out: dict[str, str | None] = {}
    for i, arg in enumerate(args):
        if arg.startswith("--"):
            flag, eq, inline = arg.partition("=")
            nxt = args[i + 1] if i + 1 < len(args) else None
            out[flag] = inline if eq else (nxt if nxt is not None and not nxt.startswith("--") else None)
    return out


def load_args() -> list[str]:
    c = container(LOAD_JOB, "load")
    assert c["command"] == ["streamflow-load"], "the load container runs streamflow-load itself, no shell"
    return c["args"]


def merge_script() -> str:
    c = container(MERGE_JOB, "merge")
    assert c["command"] == ["sh", "-c"], "the merge container is a shell script (it waits for the files)"
    (script,) = c["args"]
    return script


def merge_invocation() -> list[str]:
    """The ``streamflow-load merge ...`` line of the merge Job's script, as argv."""
    lines = [ln.strip() for ln in merge_script().splitlines() if "streamflow-load merge" in ln]
    assert len(lines) == 1, f"want one streamflow-load merge line in the merge Job, found {lines}"
    argv = shlex.split(lines[0].split(">")[0])
    assert argv[:2] == ["streamflow-load", "merge"], argv
    return argv


def env_of(c: dict) -> dict[str, dict]:
    return {e["name"]: e for e in c.get("env", [])}


@functools.cache
def help_flags(cmd: tuple[str, ...]) -> tuple[set[str], str]:
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{' '.join(cmd[2:])} exited {proc.returncode}:\n{text}"
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text)), text


# --- schema -------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    "name,doc", [pytest.param(n, d, id=f"{n}:{d['kind']}") for n, docs in CORE.items() for d in docs]
)
def test_manifest_validates_strictly_against_the_kubernetes_schema(name, doc, version):
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.ValidationError as e:
        path = ".".join(str(p) for p in e.path)
        pytest.fail(
            f"{name}: {doc['kind']}/{doc['metadata']['name']} invalid for Kubernetes {version} at {path}: {e.message}"
        )


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_the_validator_has_no_schema_for_the_operator_objects(version):
    # Why the ServiceMonitor and PodMonitor are checked by hand below: the API server's schema does not
    # know the Prometheus Operator's CRDs. Should a later validator bundle them, validate them instead.
    for name, doc in ((n, d) for n, docs in MONITORS.items() for d in docs):
        assert doc["apiVersion"] == "monitoring.coreos.com/v1", name
        with pytest.raises(kubernetes_validate.SchemaNotFoundError):
            kubernetes_validate.validate(doc, version, strict=True)


def test_resource_quantities_are_kubernetes_quantities():
    # The JSON schema takes any string for a quantity ("half" passes): the API server's grammar, here.
    quantity = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[numkMGTPE]|[KMGTPE]i)?$")
    seen = 0
    for name, doc in ALL_DOCS:
        if doc["kind"] in ("Deployment", "Job"):
            spec = pod_spec(doc)
            for c in spec.get("initContainers", []) + spec["containers"]:
                res = c.get("resources", {})
                assert "memory" in res.get("requests", {}) and "memory" in res.get("limits", {}), (
                    f"{name}: container {c['name']} needs a memory request and limit"
                )
                assert "cpu" in res["requests"], f"{name}: container {c['name']} needs a cpu request"
                for kind in ("requests", "limits"):
                    for resource, value in res.get(kind, {}).items():
                        assert quantity.match(str(value)), f"{name}: {c['name']} {kind}.{resource}={value!r}"
                        seen += 1
    storage = PVC["spec"]["resources"]["requests"]["storage"]
    assert quantity.match(storage), storage
    assert seen >= 10


# --- the files as a whole -----------------------------------------------------------------------


def test_kustomization_lists_every_manifest_and_one_image():
    assert KUSTOMIZATION["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert KUSTOMIZATION["kind"] == "Kustomization"
    # Every file of the directory, and only those; the operator's objects apart (they need its CRDs).
    assert sorted(KUSTOMIZATION["resources"]) == sorted(CORE)
    assert not any("prometheus-operator" in r for r in KUSTOMIZATION["resources"])
    (image,) = KUSTOMIZATION["images"]
    images = {
        c["image"]
        for _, d in ALL_DOCS
        if d["kind"] in ("Deployment", "Job")
        for c in pod_spec(d).get("initContainers", []) + pod_spec(d)["containers"]
    }
    assert images == {f"{image['name']}:latest"}, images
    # Every object of the directory carries the same name label, which the monitors select on.
    for name, doc in ALL_DOCS:
        assert doc["metadata"]["labels"]["app.kubernetes.io/name"] == "streamflow", name


def test_pods_run_as_the_dockerfiles_non_root_user():
    dockerfile = (REPO / "Dockerfile").read_text()
    user = int(re.findall(r"^USER (\d+)$", dockerfile, re.M)[-1])
    assert user != 0
    for workload in (DEPLOYMENT, LOAD_JOB, MERGE_JOB):
        spec = pod_spec(workload)
        ctx = spec["securityContext"]
        assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] == user, workload["metadata"]["name"]
        assert ctx["seccompProfile"]["type"] == "RuntimeDefault"
        for c in spec.get("initContainers", []) + spec["containers"]:
            assert c["securityContext"]["allowPrivilegeEscalation"] is False, c["name"]
            assert c["securityContext"]["capabilities"]["drop"] == ["ALL"], c["name"]
    for job in (LOAD_JOB, MERGE_JOB):  # they write the results volume: group-owned by the image's group
        assert pod_spec(job)["securityContext"]["fsGroup"] == pod_spec(job)["securityContext"]["runAsGroup"]


# --- the API: Deployment, Service, probes, scrape annotations, ServiceMonitor --------------------


def test_service_selects_the_deployments_pods_on_its_named_port():
    pod_labels = DEPLOYMENT["spec"]["template"]["metadata"]["labels"]
    assert DEPLOYMENT["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    selector = SERVICE["spec"]["selector"]
    assert selector and selector.items() <= pod_labels.items(), (selector, pod_labels)
    # ...and no other pod of the directory: the load pods must not receive API traffic.
    for workload in (LOAD_JOB, MERGE_JOB):
        assert not selector.items() <= workload["spec"]["template"]["metadata"]["labels"].items()
    ports = named_ports(container(DEPLOYMENT, "api"))
    (svc_port,) = SERVICE["spec"]["ports"]
    assert svc_port["targetPort"] in ports, f"Service targetPort {svc_port['targetPort']} is no container port"


def test_api_port_agrees_across_dockerfile_command_probes_and_annotations():
    dockerfile = (REPO / "Dockerfile").read_text()
    image_port = int(re.search(r'CMD \["streamflow-api", "--host", "0.0.0.0", "--port", "(\d+)"\]', dockerfile)[1])
    assert f"EXPOSE {image_port}" in dockerfile
    api = container(DEPLOYMENT, "api")
    flags = flag_values(api["command"])
    assert api["command"][0] == "streamflow-api"
    assert flags["--host"] == "0.0.0.0", "in a pod the API must listen beyond loopback"
    port = int(flags["--port"])
    assert port == image_port == named_ports(api)["http"] == SERVICE["spec"]["ports"][0]["port"]
    for probe in ("readinessProbe", "livenessProbe"):
        get = api[probe]["httpGet"]
        assert get["path"] == "/health", probe
        assert get["port"] in ("http", port), f"{probe} port {get['port']}"
    notes = DEPLOYMENT["spec"]["template"]["metadata"]["annotations"]
    assert notes["prometheus.io/scrape"] == "true"
    assert int(notes["prometheus.io/port"]) == port
    assert notes["prometheus.io/path"] == "/metrics"
    # One scrape per replica: annotations on the pods only (a Service's would double them).
    assert not any(k.startswith("prometheus.io/") for k in SERVICE["metadata"].get("annotations", {}))


def test_service_monitor_selects_the_service_and_scrapes_its_named_port():
    assert SERVICE_MONITOR["apiVersion"] == "monitoring.coreos.com/v1"
    assert SERVICE_MONITOR["kind"] == "ServiceMonitor"
    spec = SERVICE_MONITOR["spec"]
    assert set(spec) <= {"selector", "endpoints", "namespaceSelector", "jobLabel"}, set(spec)
    match = spec["selector"]["matchLabels"]
    assert match and match.items() <= SERVICE["metadata"]["labels"].items(), "selects Services by their own labels"
    (endpoint,) = spec["endpoints"]
    assert set(endpoint) <= {"port", "path", "interval", "scrapeTimeout", "scheme"}, set(endpoint)
    assert endpoint["port"] in {p["name"] for p in SERVICE["spec"]["ports"]}, endpoint["port"]
    notes = DEPLOYMENT["spec"]["template"]["metadata"]["annotations"]
    assert endpoint["path"] == notes["prometheus.io/path"]
    assert re.fullmatch(r"\d+(ms|s|m)", endpoint["interval"])


def test_pod_monitor_selects_the_load_pods_and_scrapes_their_metrics_port():
    assert POD_MONITOR["apiVersion"] == "monitoring.coreos.com/v1"
    assert POD_MONITOR["kind"] == "PodMonitor"
    spec = POD_MONITOR["spec"]
    assert set(spec) <= {"selector", "podMetricsEndpoints", "namespaceSelector", "jobLabel"}, set(spec)
    match = spec["selector"]["matchLabels"]
    assert match.items() <= LOAD_JOB["spec"]["template"]["metadata"]["labels"].items()
    assert not match.items() <= DEPLOYMENT["spec"]["template"]["metadata"]["labels"].items()
    (endpoint,) = spec["podMetricsEndpoints"]
    assert endpoint["port"] in named_ports(container(LOAD_JOB, "load")), endpoint["port"]
    assert endpoint["path"] == LOAD_JOB["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"]


def test_the_prediction_log_comes_from_one_secret_url_and_mounted_password():
    api = container(DEPLOYMENT, "api")
    env = {e["name"]: e for e in api["env"]}
    ref = env["STREAMFLOW_API_PREDICTION_LOG"]["valueFrom"]["secretKeyRef"]
    (volume,) = [v for v in pod_spec(DEPLOYMENT)["volumes"] if v["name"] == "prediction-log"]
    assert volume["secret"]["secretName"] == ref["name"]
    (mount,) = [m for m in api["volumeMounts"] if m["name"] == "prediction-log"]
    (item,) = volume["secret"]["items"]
    assert env["STREAMFLOW_API_PREDICTION_LOG_PASSWORD_FILE"]["value"] == f"{mount['mountPath']}/{item['path']}"
    assert mount["readOnly"] is True
    assert f"secret generic {ref['name']}" in (K8S / "kustomization.yaml").read_text()  # how to create it


@pytest.fixture(scope="module")
def deployed_api():
    """The API as the Deployment runs it: its command's flags and its environment (on a loopback port), the
    Secret it reads standing for a real PostgreSQL started here (its URL, and its password as the file)."""
    from postgres_server import running_postgres

    api = container(DEPLOYMENT, "api")
    args = api["command"][1:]
    for flag in ("--host", "--port"):  # running_api binds a free loopback port instead
        i = args.index(flag)
        del args[i : i + 2]
    with running_postgres() as pg:
        secret = {"url": pg.url}
        env = {
            e["name"]: e["value"] if "value" in e else secret[e["valueFrom"]["secretKeyRef"]["key"]]
            for e in api.get("env", [])
        }
        assert all(k.startswith("STREAMFLOW_API_") for k in env), env
        env["STREAMFLOW_API_PREDICTION_LOG_PASSWORD_FILE"] = str(pg.password_file)  # where the pod mounts it
        with running_api(*args, env=env) as url:
            yield url, env


def test_the_api_serves_the_probe_and_scrape_paths_with_the_deployments_command_and_env(deployed_api):
    url, env = deployed_api
    api = container(DEPLOYMENT, "api")
    for probe in ("readinessProbe", "livenessProbe"):
        r = httpx.get(url + api[probe]["httpGet"]["path"], timeout=10)
        assert r.status_code == 200, (probe, r.status_code, r.text)
    health = httpx.get(url + "/health", timeout=10).json()
    assert health["prediction_log"]["backend"] == "postgresql" and health["prediction_log"]["status"] == "ok"
    if "STREAMFLOW_API_MONTH" in env:
        assert health["served_month"] == env["STREAMFLOW_API_MONTH"]
    path = DEPLOYMENT["spec"]["template"]["metadata"]["annotations"]["prometheus.io/path"]
    r = httpx.get(url + path, timeout=10)
    assert r.status_code == 200 and any(name == "api_requests_total" for name, _ in samples(r.text))


# --- the load: the Indexed Job, its results volume and the merge Job ----------------------------


def test_load_job_is_indexed_with_one_pod_per_segment():
    spec = LOAD_JOB["spec"]
    assert spec["completionMode"] == "Indexed"
    flags = flag_values(load_args())
    segments = int(flags["--segment-count"])
    assert segments >= 2
    assert spec["completions"] == spec["parallelism"] == segments, "every segment runs at once, one per pod"
    assert int(env_of(container(MERGE_JOB, "merge"))["SEGMENTS"]["value"]) == segments, "merge waits for N files"
    assert pod_spec(LOAD_JOB)["restartPolicy"] in ("Never", "OnFailure")
    assert MERGE_JOB["spec"].get("completionMode", "NonIndexed") == "NonIndexed"
    assert MERGE_JOB["spec"]["completions"] == MERGE_JOB["spec"]["parallelism"] == 1


def test_every_variable_in_the_load_args_is_defined():
    c = container(LOAD_JOB, "load")
    env = env_of(c)
    used = {v for arg in c["args"] for v in re.findall(r"\$\((\w+)\)", arg)}
    assert "JOB_COMPLETION_INDEX" in used, "the segment index comes from the Indexed Job"
    # Kubernetes expands $(VAR) only for a variable of the container's env (else it is passed literally);
    # the Job controller adds JOB_COMPLETION_INDEX itself, declared here so that this can be checked.
    assert used <= set(env), f"$(VAR) in args without an env entry: {used - set(env)}"
    index = env["JOB_COMPLETION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert index == "metadata.annotations['batch.kubernetes.io/job-completion-index']"


def test_segments_write_where_the_merge_job_reads_on_one_shared_volume():
    assert PVC["spec"]["accessModes"] == ["ReadWriteMany"], "N pods on N nodes write it at once"

    def mount(job: dict, name: str, path_in: str) -> str:
        c = container(job, name)
        claims = {
            v["name"]: v["persistentVolumeClaim"]["claimName"]
            for v in pod_spec(job)["volumes"]
            if "persistentVolumeClaim" in v
        }
        (m,) = [m for m in c["volumeMounts"] if path_in.startswith(m["mountPath"].rstrip("/") + "/")]
        assert claims[m["name"]] == PVC["metadata"]["name"], f"{job['metadata']['name']} mounts another volume"
        assert not m.get("readOnly") or job is MERGE_JOB
        return m["mountPath"]

    output = flag_values(load_args())["--output"]
    assert "$(JOB_COMPLETION_INDEX)" in output, "one file per segment"
    inputs = [a for a in merge_invocation()[2:] if not a.startswith("--")]
    assert inputs, "merge names its input files"
    assert mount(LOAD_JOB, "load", output) == mount(MERGE_JOB, "merge", inputs[0])
    segments = LOAD_JOB["spec"]["completions"]
    files = [output.replace("$(JOB_COMPLETION_INDEX)", str(i)) for i in range(segments)]
    assert all(any(fnmatch.fnmatch(f, pattern) for pattern in inputs) for f in files), (files, inputs)
    # The script waits for each of those files, by the same name, before merging.
    waits = re.findall(r'"(/[^"]*\$i[^"]*)"', merge_script())
    assert len(waits) == 1, f"want one file the merge Job waits for, by index $i: {waits}"
    assert [waits[0].replace("$i", str(i)) for i in range(segments)] == files


def test_merge_job_runs_streamflow_load_merge_with_json():
    argv = merge_invocation()
    assert argv[2:] == ["/results/segment-*.json", "--json"], argv
    assert "set -eu" in merge_script(), "a failing merge must fail the Job"
    assert MERGE_JOB["spec"].get("activeDeadlineSeconds"), "the wait for the segments must end"


def test_load_targets_the_service_and_exposes_its_metrics_port():
    flags = flag_values(load_args())
    url = urlsplit(flags["--url"])
    assert url.hostname == SERVICE["metadata"]["name"] and url.port == SERVICE["spec"]["ports"][0]["port"]
    c = container(LOAD_JOB, "load")
    metrics_port = int(flags["--metrics-port"])
    assert named_ports(c)["metrics"] == metrics_port
    notes = LOAD_JOB["spec"]["template"]["metadata"]["annotations"]
    assert notes["prometheus.io/scrape"] == "true"
    assert int(notes["prometheus.io/port"]) == metrics_port and notes["prometheus.io/path"] == "/metrics"
    # The init container waits for the very URL the load then uses.
    (wait,) = pod_spec(LOAD_JOB)["initContainers"]
    assert f'"{flags["--url"]}/health"' in wait["command"][-1]
    assert flags["--metrics-host"] not in (None, "127.0.0.1", "localhost", "::1"), "Prometheus scrapes from outside"
    assert float(flags["--metrics-linger"]) >= 10, "the pod lives on for a last scrape of the final counts"
    assert flags["--run-id"] == "$(STREAMFLOW_RUN_ID)"
    run_id = env_of(c)["STREAMFLOW_RUN_ID"]["valueFrom"]["fieldRef"]["fieldPath"]
    assert run_id == "metadata.labels['batch.kubernetes.io/controller-uid']", "one id per Job, shared by its pods"


# --- against streamflow-load's own command line ------------------------------------------------


def test_load_job_uses_only_flags_streamflow_load_accepts():
    accepted, text = help_flags(LOAD_HELP)
    used = [a.split("=")[0] for a in load_args() if a.startswith("--")]
    missing = [f for f in used if f not in accepted]
    assert not missing, (
        f"deploy/k8s/load-job.yaml passes {missing} but `streamflow-load --help` does not list them "
        f"(segmented runs: --segment-count, --output, --run-id, --metrics-port). Help was:\n{text}"
    )


def test_merge_job_uses_a_merge_subcommand_streamflow_load_has():
    accepted, text = help_flags(MERGE_HELP)
    usage = text.strip().splitlines()[0] if text.strip() else ""
    assert "merge" in usage, (
        "`streamflow-load merge --help` does not show a merge subcommand, which "
        f"deploy/k8s/load-merge-job.yaml runs. It printed:\n{text}"
    )
    missing = [f for f in merge_invocation()[2:] if f.startswith("--") and f not in accepted]
    assert not missing, f"`streamflow-load merge` does not list {missing}:\n{text}"


def test_the_load_and_merge_jobs_commands_run_end_to_end_here(deployed_api, tmp_path):
    """The Indexed Job's N pods and the merge Job's script, run as local processes against the API started
    as the Deployment runs it: the same argv and script, with the volume at a temporary directory, the
    Service at a loopback port, a 1 s run and quicker polls; the merge started with the segments, as
    `kubectl apply -k` starts both Jobs."""
    url, _ = deployed_api
    used = [a for a in load_args() if a.startswith("--")]
    accepted, _ = help_flags(LOAD_HELP)
    if not set(used) <= accepted:
        pytest.fail(f"streamflow-load does not accept {sorted(set(used) - accepted)} yet: see the flags test")
    segments = LOAD_JOB["spec"]["completions"]
    results = tmp_path / "results"
    results.mkdir()
    bindir = str(Path(sys.executable).parent)  # streamflow-load, as on the image's PATH
    path_env = {"PATH": bindir + os.pathsep + os.environ["PATH"]}
    script = merge_script().replace("/results", str(results)).replace("sleep 5", "sleep 0.2")
    merge_env = {**os.environ, **path_env, **{k: v["value"] for k, v in env_of(container(MERGE_JOB, "merge")).items()}}
    merger = subprocess.Popen(
        ["sh", "-c", script], env=merge_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    procs, metrics_urls = [], []
    try:
        for i in range(segments):
            values = {"JOB_COMPLETION_INDEX": str(i), "STREAMFLOW_RUN_ID": "k8s-test-run"}
            argv = [re.sub(r"\$\((\w+)\)", lambda m, v=values: v[m[1]], a) for a in load_args()]
            argv = [a.replace("/results", str(results)) for a in argv]
            port = free_port()
            for flag, value in (
                ("--url", url),
                ("--duration", "1"),
                ("--rate", "40"),
                ("--metrics-port", str(port)),
                ("--metrics-host", "127.0.0.1"),  # here, not every interface of the machine
                ("--metrics-linger", "1"),
            ):
                argv[argv.index(flag) + 1] = value
            metrics_urls.append(f"http://127.0.0.1:{port}/metrics")
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "loadgen.cli", *argv],
                    cwd=REPO,
                    env={**os.environ, **values},
                    stdout=subprocess.DEVNULL,
                )
            )

        def segment_labels() -> set[str]:
            labels = set()
            for metrics_url in metrics_urls:
                try:
                    body = httpx.get(metrics_url, timeout=2).text
                except httpx.HTTPError:
                    continue
                labels |= {dict(ls).get("segment") for name, ls in samples(body) if name.startswith("streamflow_load_")}
            return labels - {None}

        # What Prometheus scraping every load pod sees: each segment's own series, labelled i/N.
        want = {f"{i}/{segments}" for i in range(segments)}
        seen: set[str] = set()
        wait_until(
            lambda: seen.update(segment_labels()) or want <= seen, 30, "every segment's metrics", seen=lambda: seen
        )
        codes = [p.wait(timeout=60) for p in procs]
        assert codes == [0] * segments, codes
        out, err = merger.communicate(timeout=60)
    finally:
        for p in [*procs, merger]:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert merger.returncode == 0, out + err
    merged = json.loads(out)
    run = results / "runs" / "k8s-test-run"
    assert merged == json.loads((run / "merged.json").read_text())
    assert not list(results.glob("segment-*.json")), "the merged run's files are moved out of the next run's way"
    parts = [json.loads((run / f"segment-{i}.json").read_text()) for i in range(segments)]
    assert all(p["partial"] is False for p in parts)
    assert merged["segments"]["indexes"] == list(range(segments))
    assert merged["totals"]["sent"] == sum(p["totals"]["sent"] for p in parts) > 0
    assert merged["totals"]["ok"] == merged["totals"]["sent"], merged["totals"]


def test_the_merge_job_waits_while_a_segment_is_partial_or_missing(tmp_path):
    """Segment 1's file is a checkpoint of a running segment, or not there yet: the script still waits."""
    merges = []
    for case in ("partial", "missing"):
        results = tmp_path / case
        results.mkdir()
        (results / "segment-0.json").write_text(json.dumps({"partial": False}))
        if case == "partial":
            (results / "segment-1.json").write_text(json.dumps({"partial": True}))
        script = merge_script().replace("/results", str(results)).replace("sleep 5", "sleep 0.1")
        merges.append(subprocess.Popen(["sh", "-c", script], env={**os.environ, "SEGMENTS": "2"}))
    try:
        time.sleep(1.0)  # a negative check: 10 polls of the script (0.1 s each) must not have merged
        assert [p.poll() for p in merges] == [None, None], "the merge went ahead without segment 1's final report"
    finally:
        for p in merges:
            p.kill()
            p.wait()
