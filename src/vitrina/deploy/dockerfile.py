"""The vitrina image: built from the repository root (`docker build -f deploy/Dockerfile .`),
wheels in a build stage, only vitrina's runtime dependencies in the final stage, a non-root user,
and a HEALTHCHECK that asks the role's /healthz with the interpreter the image already has."""

from __future__ import annotations

import json

from vitrina import __version__
from vitrina.deploy.formats import HEADER
from vitrina.deploy.topology import DATA_DIR, HEALTH_ENV, KEYS_DIR, Topology

UID = 10001  # above the range of system users any base image may add

# Exit 0 on a 2xx from the role's /healthz, 1 otherwise (urlopen raises on errors and non-2xx).
HEALTH_PROBE = (
    "import os, sys, urllib.request; "
    f"url = os.environ.get('{HEALTH_ENV}', 'http://127.0.0.1:{{port}}/healthz'); "
    "sys.exit(0 if urllib.request.urlopen(url, timeout=4).status < 300 else 1)"
)


def health_command(t: Topology) -> list[str]:
    return ["python", "-c", HEALTH_PROBE.format(port=t.ports.api)]


def dockerfile(t: Topology) -> str:
    ports = " ".join(str(r.port) for r in t.roles)
    api = t.roles[0]
    cmd = json.dumps([api.name, "--host", "0.0.0.0", "--port", str(api.port)])
    return f"""# {HEADER}
# Build from the repository root: docker build -f deploy/Dockerfile -t {t.images.vitrina} .
# (BuildKit, the default since Docker 23: the final stage mounts the build stage's wheels.)
FROM {t.images.python} AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# vitrina's wheel and the wheels of its pinned runtime dependencies; no extras, so no dev tools.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM {t.images.python}
ENV PYTHONDONTWRITEBYTECODE=1 \\
    PYTHONUNBUFFERED=1
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \\
    pip install --no-cache-dir --no-index --find-links=/wheels vitrina=={__version__} \\
    && groupadd --system --gid {UID} vitrina \\
    && useradd --system --uid {UID} --gid vitrina --home-dir {DATA_DIR} --create-home --shell /usr/sbin/nologin vitrina \\
    && mkdir -p {KEYS_DIR} \\
    && chown vitrina:vitrina {KEYS_DIR}
USER {UID}:{UID}
WORKDIR {DATA_DIR}
EXPOSE {ports}
# The probe targets the api's port; other roles set {HEALTH_ENV} to their own /healthz.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \\
    CMD {json.dumps(health_command(t))}
ENTRYPOINT ["vitrina"]
CMD {cmd}
"""


def dockerignore() -> str:
    # BuildKit reads <Dockerfile>.dockerignore beside the Dockerfile: send only what the wheel needs.
    return f"# {HEADER}\n*\n!pyproject.toml\n!README.md\n!src/\n**/__pycache__\n**/*.pyc\n"
