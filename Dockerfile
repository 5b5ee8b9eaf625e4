# syntax=docker/dockerfile:1
# One image for every Riverbed app service; docker-compose.yml picks the sub-command:
#   docker build -t riverbed .  &&  docker run --rm riverbed --help
# Three stages: npm installs the dashboard's chart library, uv and the build run in the
# second, the final image holds only the virtualenv (installed non-editable, so the source
# tree is not needed at run time).
#
# The base images are build arguments, and nothing below depends on where a base keeps
# its Python: `make containers` builds this file on stand-in Debian bookworm bases with
# Debian's python3.11 (no registry is reachable there), docker compose on the official
# ones. Both bases of a build must be the same Debian release (bookworm here): the
# virtualenv made in the build stage runs in the runtime stage.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
# Node 24 is an LTS line, supported until April 2028 (Node 20 reached its end of life in
# April 2026); only its npm runs, at build time.
ARG NODE_IMAGE=node:24-bookworm-slim
# The interpreter `pythonX.Y` the Python base puts on PATH.
ARG PYTHON_VERSION=3.11

# The dashboard's chart library comes from the npm registry at build time (no CDN at run time).
FROM ${NODE_IMAGE} AS ui
WORKDIR /ui
COPY dashboard/package.json dashboard/package-lock.json ./
RUN npm ci --no-audit --no-fund


FROM ${PYTHON_IMAGE} AS build
ARG PYTHON_VERSION

# Pinned so the image builds the same way as the uv that wrote uv.lock. uv goes into a
# venv of its own: Debian's system Python refuses `pip install` (PEP 668).
ARG UV_VERSION=0.13.9
RUN python${PYTHON_VERSION} -m venv /opt/uv \
    && /opt/uv/bin/pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"

# Use the base image's interpreter, found on PATH (never download one); copy files out of
# the cache mount rather than hard-linking; precompile bytecode so containers start faster
# (the root filesystem is read-only at run time, so nothing could be cached later).
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=python${PYTHON_VERSION} \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1

WORKDIR /app

# Dependencies first: this layer is rebuilt only when the lock changes, not on every
# source edit.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --frozen --no-dev --no-install-project

# hatchling reads README.md (the project's `readme`); stack/ and tests/ stay out.
COPY README.md ./
COPY core/ core/
COPY riverbed/ riverbed/
COPY schemas/ schemas/
COPY producers/ producers/
COPY processors/ processors/
COPY stores/ stores/
COPY dashboard/ dashboard/
RUN --mount=type=cache,target=/root/.cache/uv \
    /opt/uv/bin/uv sync --frozen --no-dev --no-editable

# The dashboard serves its chart library from node_modules beside its package, wherever
# the base's Python keeps site-packages: ask the venv's interpreter instead of writing
# the path down (-I: without the working directory on sys.path, which would find the
# source copy in /app/dashboard instead).
COPY --from=ui /ui/node_modules /tmp/node_modules
RUN target="$(/app/.venv/bin/python -I -c 'import dashboard, pathlib; print(pathlib.Path(dashboard.__file__).parent)')" \
    && case "$target" in /app/.venv/*) ;; *) echo "dashboard found at $target" >&2; exit 1;; esac \
    && mv /tmp/node_modules "$target/node_modules"


FROM ${PYTHON_IMAGE} AS runtime

# The recommender's ALS (implicit's wheel) is built with OpenMP: it loads libgomp.so.1,
# which slim Debian bases do not carry (the viewing worker failed to import without it).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

# A fixed, unprivileged uid so volume ownership is predictable. /data is the only place
# the app writes (workers' state, the gateway's key store): created here owned by that
# user, so a new named volume mounted on it starts with the same owner. The root
# filesystem can then be read-only (docker-compose.yml sets read_only).
RUN groupadd --system --gid 10001 riverbed \
    && useradd --system --uid 10001 --gid riverbed --no-create-home --home-dir /data riverbed \
    && install -d -o riverbed -g riverbed -m 0750 /data

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOME=/data \
    RIVERBED_DATA_DIR=/data \
    RIVERBED_GATEWAY_KEYS_FILE=/data/api-keys.json \
    RIVERBED_DASHBOARD_KEYS_FILE=/data/reader-keys.json

WORKDIR /app
COPY --from=build /app/.venv /app/.venv

VOLUME ["/data"]
USER riverbed

ENTRYPOINT ["riverbed"]
CMD ["--help"]
