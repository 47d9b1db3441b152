# syntax=docker/dockerfile:1.7
# One image recipe for every deployable package of the workspace:
#
#   docker build --build-arg PACKAGE=tickets --build-arg PACKAGE_DIR=services/tickets .
#
# PACKAGE is the workspace member (auth, tickets, orders, expiration, payments, waitingroom,
# client) and PACKAGE_DIR its folder. The image holds that package, tixcommon (for the client
# without its `service` extra: no MongoDB or NATS driver) and their locked runtime dependencies:
# no dev group, no tixdev or tixtest (so no embedded SecantusDB, localstripe, nats-server or
# pytest).
# The expiration image also runs the worker: `tix-expiration-worker`. Whatever a package keeps
# beside its Python files under src/ comes along (the waiting room's Lua scripts).
#
# Behind a TLS-inspecting proxy, hand the build your CA bundle as a secret (it is mounted for
# the `uv sync` steps only and never lands in a layer):
#
#   docker build --secret id=ca-certificates,src=/etc/ssl/certs/ca-certificates.crt ...

ARG PYTHON_IMAGE=python:3.11-slim-trixie
# Keep in step with UV_VERSION in the Makefile (a test checks).
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13.9

FROM ${UV_IMAGE} AS uv

FROM ${PYTHON_IMAGE} AS build
ARG PACKAGE
ARG PACKAGE_DIR
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv
WORKDIR /app

# Dependencies first, in a layer that changes only with the lock. uv reads every member's
# pyproject.toml to check the lock, so all of them come in here (a test keeps this list whole).
COPY pyproject.toml uv.lock ./
COPY common/pyproject.toml common/
COPY client/pyproject.toml client/
COPY devtools/pyproject.toml devtools/
COPY testkit/pyproject.toml testkit/
COPY services/auth/pyproject.toml services/auth/
COPY services/tickets/pyproject.toml services/tickets/
COPY services/orders/pyproject.toml services/orders/
COPY services/expiration/pyproject.toml services/expiration/
COPY services/payments/pyproject.toml services/payments/
COPY services/waitingroom/pyproject.toml services/waitingroom/
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=secret,id=ca-certificates,required=false \
    test -n "$PACKAGE" && test -f "$PACKAGE_DIR/pyproject.toml" \
    && if [ -s /run/secrets/ca-certificates ]; then export SSL_CERT_FILE=/run/secrets/ca-certificates; fi \
    && uv sync --locked --no-dev --no-install-workspace --package "$PACKAGE"

# Then the code: tixcommon and the package, installed in place (editable), so that skaffold's
# file sync in the dev profile reaches the running code.
COPY common/src common/src
COPY ${PACKAGE_DIR}/src ${PACKAGE_DIR}/src
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=secret,id=ca-certificates,required=false \
    if [ -s /run/secrets/ca-certificates ]; then export SSL_CERT_FILE=/run/secrets/ca-certificates; fi \
    && uv sync --locked --no-dev --package "$PACKAGE" \
    && python -m compileall -q common/src "$PACKAGE_DIR/src"

FROM ${PYTHON_IMAGE} AS runtime
ARG PACKAGE
RUN groupadd --system --gid 10001 tix \
    && useradd --system --uid 10001 --gid tix --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin tix
COPY --from=build /opt/venv /opt/venv
# The sources belong to the app user only so that skaffold's dev file sync can replace them;
# every other deployment mounts the root filesystem read-only.
COPY --from=build --chown=10001:10001 /app /app
# One name for the server whatever the package, so the entrypoint stays exec-form (no shell
# between Kubernetes and the server: SIGTERM reaches uvicorn, which drains and stops).
RUN test -x "/opt/venv/bin/tix-$PACKAGE" && ln -s "/opt/venv/bin/tix-$PACKAGE" /usr/local/bin/tix-service
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8000
WORKDIR /app
USER 10001:10001
EXPOSE 8000
ENTRYPOINT ["tix-service"]
