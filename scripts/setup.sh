#!/usr/bin/env bash
# Set up a virtual environment in .venv. `setup.sh serve`: what serving needs (no torch).
# `setup.sh dev`: everything, for training and tests, plus Debian's Chromium for browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
profile="${1:-serve}"
python="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=".venv/.digitrec-$profile-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  if [ "$profile" = "dev" ]; then
    # torch==2.13.0 is pinned in the extra: that exact version installs a CPU build.
    .venv/bin/python -m pip install --quiet -e ".[train,dev]"
  else
    .venv/bin/python -m pip install --quiet -e .
  fi
  touch "$stamp"
fi

# The page (frontend/): npm ci when the lock file changed, the build when the sources did. The
# built files land in src/digitrec/web/static/dist/, which the wheel ships: pip users need no Node.
frontend_stamp="$(cat frontend/package-lock.json frontend/build.mjs frontend/tsconfig.json \
  $(find frontend/src frontend/tools -type f | sort) | sha256sum | cut -c1-16)"
built="src/digitrec/web/static/dist/.build-$frontend_stamp"
if [ ! -f "$built" ] || [ ! -f frontend/dist-node/parity.mjs ]; then
  if ! command -v npm >/dev/null; then
    if [ "$(id -u)" = "0" ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
    $apt_get update -qq
    DEBIAN_FRONTEND=noninteractive $apt_get install -y -qq nodejs npm >/dev/null
  fi
  lock_stamp="frontend/node_modules/.digitrec-$(sha256sum frontend/package-lock.json | cut -c1-16)"
  if [ ! -f "$lock_stamp" ]; then
    (cd frontend && npm ci --no-audit --no-fund --loglevel=error)
    touch "$lock_stamp"
  fi
  (cd frontend && npm run --silent build)
  touch "$built"
fi

if [ "$profile" = "dev" ]; then
  # Debian's packages for the tests: Chromium (Playwright cannot download its own browsers here)
  # and a PostgreSQL server (the feedback tests start a throwaway cluster of their own); and
  # wrk, the load generator of `make bench`; nginx, the balancer of the scale-out test
  # (tests/test_scale_out.py starts its own, on a free port, from deploy/nginx.conf).
  packages=()
  [ -x "${DIGITREC_CHROMIUM:-/usr/bin/chromium}" ] || packages+=(chromium fonts-dejavu-core)
  compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || packages+=(postgresql)
  command -v wrk >/dev/null || packages+=(wrk)
  [ -x /usr/sbin/nginx ] || command -v nginx >/dev/null || packages+=(nginx)
  if [ "${#packages[@]}" -gt 0 ]; then
    if [ "$(id -u)" = "0" ]; then apt_get="apt-get"; else apt_get="sudo apt-get"; fi
    $apt_get update -qq
    DEBIAN_FRONTEND=noninteractive $apt_get install -y -qq "${packages[@]}" >/dev/null
  fi
fi
