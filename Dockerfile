# syntax=docker/dockerfile:1
# The gateway as a container: `docker build -t gateway .` then `docker run -p 8000:8000 gateway`
# (or `docker compose up`, see docker-compose.yml). Two stages: the first installs the pinned
# requirements and the gateway into a virtualenv, the second copies only that virtualenv onto a
# clean slim image and runs it as an unprivileged user.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /build
# Requirements first: this layer is rebuilt only when the pins change, not with every edit.
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir --no-deps .

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="gateway" \
      org.opencontainers.image.description="Credit-metered OpenAI-compatible API gateway" \
      org.opencontainers.image.version="0.1.0"
ENV PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# A fixed numeric id, so volumes and Kubernetes' runAsNonRoot can name it.
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --home-dir /home/gateway --create-home gateway
COPY --from=builder /opt/venv /opt/venv
COPY --chmod=0755 scripts/docker-entrypoint.sh /usr/local/bin/gateway-entrypoint
USER 10001:10001
# The embedded default (DATABASE_URL unset) keeps its SQLite file here; mount a volume to keep it.
WORKDIR /home/gateway
EXPOSE 8000
# Slim images have no curl: the probe is Python's own. /health/live answers while the process
# serves (draining included); /health/ready is for load balancers.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=4).status != 200)"]
ENTRYPOINT ["gateway-entrypoint"]
