# syntax=docker/dockerfile:1
# One image for every Riverbed app service; docker-compose.yml picks the sub-command:
#   docker build -t riverbed .  &&  docker run --rm riverbed --help
# Two stages: uv and the build run in the first, the final image holds only the
# virtualenv (installed non-editable, so the source tree is not needed at run time).

ARG PYTHON_IMAGE=python:3.11-slim

# The dashboard's chart library comes from the npm registry at build time (no CDN at run time).
FROM node:20-slim AS ui
WORKDIR /ui
COPY dashboard/package.json dashboard/package-lock.json ./
RUN npm ci --no-audit --no-fund


FROM ${PYTHON_IMAGE} AS build

# Pinned so the image builds the same way as the uv that wrote uv.lock.
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"

# Use the base image's interpreter (never download one); copy files out of the cache
# mount rather than hard-linking; precompile bytecode so containers start faster.
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1

WORKDIR /app

# Dependencies first: this layer is rebuilt only when the lock changes, not on every
# source edit.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-install-project

# hatchling reads README.md (the project's `readme`); stack/ and tests/ stay out.
COPY README.md ./
COPY riverbed/ riverbed/
COPY schemas/ schemas/
COPY producers/ producers/
COPY processors/ processors/
COPY stores/ stores/
COPY dashboard/ dashboard/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --no-editable


FROM ${PYTHON_IMAGE} AS runtime

# A fixed, unprivileged uid so volume ownership is predictable; the home directory
# holds Settings.cache_dir (~/.cache/riverbed).
RUN groupadd --system --gid 10001 riverbed \
    && useradd --system --uid 10001 --gid riverbed --create-home --home-dir /home/riverbed riverbed

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY --from=ui /ui/node_modules /app/.venv/lib/python3.11/site-packages/dashboard/node_modules

USER riverbed

ENTRYPOINT ["riverbed"]
CMD ["--help"]
