# The one image of secupol: `python -m api` (default), `python -m worker`, `alembic upgrade head`
# and `python -m api.admin …` all run from it (see docker-compose.yml and docs/operations.md).

# The pages' design system (DSFR): its built files only, from the pinned package-lock.json.
FROM node:22-slim AS dsfr
WORKDIR /build
COPY package.json package-lock.json .dsfr.yml ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 secupol \
    && useradd --system --uid 10001 --gid secupol --home-dir /app --no-create-home secupol

WORKDIR /app

# Only what the package and Alembic need (alembic.ini points at core/migrations from /app).
COPY pyproject.toml README.md alembic.ini ./
COPY domain ./domain
COPY core ./core
COPY workflows ./workflows
COPY activities ./activities
COPY worker ./worker
COPY embedded ./embedded
COPY api ./api
# The pages find the DSFR under the working directory (api/web/__init__.py).
COPY --from=dsfr /build/node_modules/@gouvfr/dsfr/dist ./node_modules/@gouvfr/dsfr/dist
RUN pip install . \
    && mkdir -p /app/data \
    && chown secupol:secupol /app/data

USER secupol

# 8000: the web pages and the HTTP API (and its /codec, /healthz, /readyz, /metrics); 9464: the worker's metrics.
EXPOSE 8000 9464

CMD ["python", "-m", "api"]
