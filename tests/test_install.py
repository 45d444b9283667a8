"""A non-editable install carries its data and gives a working ``streamflow-api``.

The wheel is built from the checkout and installed without dependencies into a
fresh virtualenv; the dependencies come from the test environment through a
``.pth`` line, so the check needs no download yet runs only installed code.
"""

from __future__ import annotations

import os
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import httpx
from conftest import REPO, free_port, wait_http
from metrics_text import samples, value


def test_wheel_install_runs_from_anywhere(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO)],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = wheels.glob("streamflow_console-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for month in range(6):
        assert f"streamflow_data/month_{month:03d}.csv" in names
    assert not any(n.startswith(("tests/", "bench/", "data/")) for n in names)

    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    py = env_dir / "bin" / "python"
    target_site = Path(
        subprocess.run(
            [py, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (target_site / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target_site), str(wheel)],
        check=True,
    )
    script = target_site / "bin" / "streamflow-api"
    assert script.exists()

    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    where = subprocess.run(
        [py, "-c", "import streamflow_data, api; print(streamflow_data.data_dir())"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env=clean_env,
    ).stdout.strip()
    assert where.startswith(str(target_site)), where

    port = free_port()
    proc = subprocess.Popen(
        [py, str(script), "--port", str(port)], cwd=tmp_path, env=clean_env, stdout=subprocess.DEVNULL
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/health", proc=proc)
        assert httpx.get(url + "/health").json()["served_month"] == "month_005"
        first_user = (Path(where) / "month_005.csv").read_text().splitlines()[1].split(",")[0]
        assert httpx.post(url + "/predict", json={"user_id": first_user}).status_code == 200
        m = samples(httpx.get(url + "/metrics").text)
        assert value(m, "api_requests_total", endpoint="/predict", status="success", code="200") == 1
        assert value(m, "api_request_latency_seconds_count", endpoint="/predict") == 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)
