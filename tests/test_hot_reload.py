"""A new champion takes over a running API under load: 200 req/s across a promotion, two uvicorn workers,
zero errors, every answer from the old model or the new one, the switch within one poll interval."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import httpx
import pytest
from conftest import running_api
from waiting import wait_until, wait_until_async

import streamflow_data as sd

POLL_S = 1.0
RATE = 200


def retrain(registry: str, month: str, kind: str = "local") -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "api.retrain_cli", "--data", month, "--registry", kind, "--registry-location", registry],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def open_load(url: str, users: list[str], seconds: float, answers: list) -> None:
    """Bounded open-model load: one request every 1/RATE s for ``seconds``, each answer recorded."""
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=httpx.Limits(max_connections=64)) as client:

        async def one(i: int) -> None:
            sent = time.time()
            try:
                r = await client.post("/predict", json={"user_id": users[i % len(users)]})
                answers.append((sent, r.status_code, r.json().get("model_version")))
            except httpx.HTTPError as exc:
                answers.append((sent, type(exc).__name__, None))

        start = time.perf_counter()
        tasks = []
        for i in range(int(seconds * RATE)):
            await asyncio.sleep(max(0.0, start + i / RATE - time.perf_counter()))  # pacing: this is the load
            tasks.append(asyncio.create_task(one(i)))
        await asyncio.gather(*tasks)


@pytest.mark.parametrize("kind", ["local", "mlflow"])
def test_a_promotion_under_load_drops_nothing(tmp_path, kind):
    registry = str(tmp_path / "registry") if kind == "local" else f"sqlite:///{tmp_path}/mlflow.db"
    users = [r["user_id"] for r in sd.iter_rows("month_005")][:2000]
    with running_api(
        "--workers", "2", "--registry", kind, "--registry-location", registry, "--registry-poll", str(POLL_S)
    ) as api:
        old = httpx.get(api + "/health").json()["model_version"]
        answers: list = []
        promoted_at: list[float] = []

        seconds = 8.0 if kind == "local" else 25.0  # MLflow's CLI takes ~10 s to import, log and register

        async def scenario() -> None:
            load = asyncio.create_task(open_load(api, users, seconds, answers))
            # The old model has answered a second's worth of the load before the promotion starts.
            await wait_until_async(
                lambda: sum(a[2] == old for a in answers) >= RATE,
                30,
                f"{RATE} answers from {old}",
                seen=lambda: len(answers),
            )
            decision = await asyncio.to_thread(retrain, registry, "month_004", kind)
            promoted_at.append(time.time())
            assert decision["decision"] == "PROMOTED"
            assert not load.done(), "the promotion must land while the load runs"
            await load

        asyncio.run(scenario())
        new = httpx.get(api + "/model").json()["version"]
    assert new != old and new.startswith("month_004-")
    assert len(answers) == seconds * RATE
    assert [a for a in answers if a[1] != 200] == []  # zero errors, zero dropped
    versions = {a[2] for a in answers}
    assert versions == {old, new}  # old before, new after; nothing else
    # Both workers serve the new model within one poll interval of the alias moving (plus one answer's time).
    late_old = [a for a in answers if a[2] == old and a[0] > promoted_at[0] + POLL_S + 0.25]
    assert late_old == []
    first_new = min(a[0] for a in answers if a[2] == new)
    assert first_new <= promoted_at[0] + POLL_S + 0.25


def test_admin_reload_now_and_a_broken_registry_keeps_the_model(tmp_path):
    registry = tmp_path / "registry"
    with running_api("--registry-location", str(registry), "--registry-poll", "0") as api:
        old = httpx.get(api + "/health").json()["model_version"]
        retrain(str(registry), "month_004")
        assert httpx.get(api + "/health").json()["model_version"] == old  # no poll: nothing changes by itself
        answer = httpx.post(api + "/admin/reload").json()
        assert (
            answer["changed"] is True and answer["previous"] == old and answer["model_version"].startswith("month_004-")
        )
        metrics = httpx.get(api + "/metrics").text
        info = {
            line.split(" ")[0]: float(line.split(" ")[1])
            for line in metrics.splitlines()
            if line.startswith("api_model_info{")
        }
        assert sorted(info.values()) == [0.0, 1.0] and any(
            answer["model_version"] in k and v == 1 for k, v in info.items()
        )
        assert (
            f'api_reference_probability_count{{version="{answer["model_version"]}"}} 4900.0' in metrics
        )  # its 70 % training part

        (registry / "aliases.json").write_text("{ not json")  # a corrupted registry
        broken = httpx.post(api + "/admin/reload")
        assert broken.status_code == 503 and "aliases.json is corrupted" in broken.json()["detail"]
        assert f"still serving {answer['model_version']}" in broken.json()["detail"]
        served = httpx.post(api + "/predict", json={"user_id": next(sd.iter_rows("month_005"))["user_id"]})
        assert served.status_code == 200 and served.json()["model_version"] == answer["model_version"]
        assert "corrupted" in httpx.get(api + "/health").json()["registry"]["error"]


def test_an_unusable_registry_at_start_serves_the_bundled_model_and_says_so(tmp_path):
    registry = tmp_path / "registry"
    (registry / "models").mkdir(parents=True)
    (registry / "aliases.json").write_text('{"champion": "gone-123"}')
    with running_api("--registry-location", str(registry)) as api:
        health = httpx.get(api + "/health").json()
        assert health["model_version"].startswith("month_000-")
        assert "gone-123 is not in the registry" in health["registry"]["error"]
        assert (
            httpx.post(api + "/predict", json={"user_id": next(sd.iter_rows("month_005"))["user_id"]}).status_code
            == 200
        )


@pytest.fixture(autouse=True)
def _no_shared_registry(monkeypatch):
    monkeypatch.delenv("STREAMFLOW_API_REGISTRY_LOCATION", raising=False)


def test_mlflow_without_a_tracking_uri_serves_the_bundled_model_and_says_so(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with running_api("--registry", "mlflow") as api:
        health = httpx.get(api + "/health").json()
        assert (
            health["model_version"].startswith("month_000-") and "needs a tracking URI" in health["registry"]["error"]
        )
        assert httpx.post(api + "/admin/reload").status_code == 503


def test_prometheus_reads_the_new_version_and_its_reference(tmp_path):
    """Through a real Prometheus at 5 s: the replaced version's info series reads 0 and is not shown; the
    reference scores are the new model's (its 4,900 training rows)."""
    from prometheus_server import running_prometheus, scrape_config

    from streamflow_tui.core.prometheus import PrometheusSource

    registry = tmp_path / "registry"
    with running_api("--registry-location", str(registry), "--registry-poll", "0") as api:
        with running_prometheus(scrape_config([api.removeprefix("http://")], "5s")) as prom:
            source = PrometheusSource(prom)
            try:
                old = httpx.get(api + "/health").json()["model_version"]

                def version() -> str | None:
                    model = source.snapshot(20).model
                    return model.version if model else None

                wait_until(lambda: version() == old, 40, f"Prometheus reads {old}", interval=0.5, seen=version)
                retrain(str(registry), "month_004")
                new = httpx.post(api + "/admin/reload").json()["model_version"]
                wait_until(lambda: version() == new, 40, f"Prometheus reads {new}", interval=0.5, seen=version)
                snapshot = source.snapshot(20)
            finally:
                source.close()
    assert snapshot.model.version == new and snapshot.model.training_month == "month_004"
    assert sum(b.count or 0 for b in snapshot.model.reference_histogram) == 4900
