# The bundled churn predictor as a container image (used by docker-compose.yml).
FROM python:3.11.10-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    XDG_CACHE_HOME=/home/streamflow/.cache

RUN groupadd --system --gid 10001 streamflow \
    && useradd --system --uid 10001 --gid streamflow --create-home streamflow

WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY data ./data
COPY loadgen ./loadgen
COPY streamflow_tui ./streamflow_tui
# [postgres]: the replicas of docker-compose.yml and deploy/k8s share a PostgreSQL prediction log.
# DL3013 reads the extra as an unpinned package: it is this project, whose dependencies pyproject.toml bounds.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir '.[postgres]'

USER 10001
# Train the model into the image's cache, so a container starts in about a second.
RUN python -c "from api.model import load_or_train; from api.settings import ApiSettings; s = ApiSettings(); load_or_train(s.training_month, s.cache_dir)"

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"]
# Inside the container the API must listen on all interfaces; compose publishes it on 127.0.0.1 only.
CMD ["streamflow-api", "--host", "0.0.0.0", "--port", "8000"]
