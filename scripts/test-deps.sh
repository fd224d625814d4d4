#!/usr/bin/env bash
# What the test suite needs besides a Rust toolchain, installed from the
# distribution's packages (Debian or Ubuntu) and started: PostgreSQL (a
# database `test` that postgres@127.0.0.1 reaches without a password),
# Redis, Chromium with chromedriver (the console's browser tests), the
# PostgreSQL server binaries and redis-server for the TLS test,
# systemd-analyze for the unit's check, a C compiler for the build.
# Idempotent and quick when everything is there; CI (.ci/run) runs it first.
#   scripts/test-deps.sh && cargo test --workspace --locked
# Where it cannot install (not root, no apt-get), it stops with one line
# saying what to install. SWITCHBOARD_TEST_SKIP (comma-separated: postgres,
# redis, browser, tls, systemd, container) leaves those out here, and the
# tests that need them are then skipped, each saying so.
set -euo pipefail

skip() { [[ ",${SWITCHBOARD_TEST_SKIP:-}," == *",$1,"* ]]; }
say() { echo "test-deps: $*"; }
have() { command -v "$1" >/dev/null 2>&1; }
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

packages=()
have cc || packages+=(gcc libc6-dev)
if ! skip postgres || ! skip tls; then
  { have psql && [ -n "$(pg_bin)" ]; } || packages+=(postgresql)
fi
if ! skip redis || ! skip tls; then
  have redis-server || packages+=(redis-server)
fi
skip systemd || have systemd-analyze || packages+=(systemd)
if ! skip browser && [ -z "${SWITCHBOARD_CHROMIUM:-}" ]; then
  { have chromium || have chromium-browser; } || packages+=(chromium)
  { have chromedriver || [ -n "${SWITCHBOARD_CHROMEDRIVER:-}" ]; } || packages+=(chromium-driver)
fi

if [ ${#packages[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! have apt-get; then
    echo "test-deps: missing ${packages[*]}: install them (Debian/Ubuntu: sudo apt-get install -y ${packages[*]}) and run this again, or set SWITCHBOARD_TEST_SKIP to skip the tests that need them" >&2
    exit 1
  fi
  say "installing ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  if ! apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; then
    echo "test-deps: apt-get could not install ${packages[*]}: install them by hand, or set SWITCHBOARD_TEST_SKIP to skip the tests that need them" >&2
    exit 1
  fi
  # Ubuntu's chromium package is a snap stub that does not run here.
  if ! skip browser && have chromium-browser && ! chromium-browser --version >/dev/null 2>&1; then
    echo "test-deps: Chromium from this distribution does not run outside snap: install Chromium and chromedriver and set SWITCHBOARD_CHROMIUM/SWITCHBOARD_CHROMEDRIVER, or set SWITCHBOARD_TEST_SKIP=browser" >&2
    exit 1
  fi
fi

pg_url="${SWITCHBOARD_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
if ! skip postgres; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    [ "$(id -u)" -eq 0 ] || { echo "test-deps: PostgreSQL is not running on 127.0.0.1:5432: start it (sudo pg_ctlcluster <version> main start), or set SWITCHBOARD_TEST_SKIP=postgres" >&2; exit 1; }
    version="$(basename "$(dirname "$(pg_bin)")")"
    [ -d "/etc/postgresql/$version/main" ] || pg_createcluster "$version" main >/dev/null
    say "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start 2>/dev/null || pg_ctlcluster "$version" main start
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
  if ! psql "$pg_url" -Atqc 'SELECT 1' >/dev/null 2>&1 && [ -z "${SWITCHBOARD_TEST_PG_URL:-}" ]; then
    [ "$(id -u)" -eq 0 ] || { echo "test-deps: $pg_url does not connect: create the database test and let postgres log in from 127.0.0.1 without a password, or set SWITCHBOARD_TEST_PG_URL" >&2; exit 1; }
    hba="$(runuser -u postgres -- psql -Atqc 'SHOW hba_file')"
    if ! grep -q '^host all postgres 127.0.0.1/32 trust' "$hba"; then
      say "letting postgres log in from 127.0.0.1 without a password (first line of $hba)"
      sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
      runuser -u postgres -- psql -Atqc 'SELECT pg_reload_conf()' >/dev/null
    fi
    runuser -u postgres -- psql -Atqc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1 || runuser -u postgres -- createdb test
  fi
  psql "$pg_url" -Atqc 'SELECT 1' >/dev/null || { echo "test-deps: PostgreSQL at $pg_url does not answer" >&2; exit 1; }
fi

redis_url="${SWITCHBOARD_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
if ! skip redis && ! redis-cli -u "$redis_url" ping >/dev/null 2>&1; then
  say "starting Redis"
  (service redis-server start || redis-server --daemonize yes --bind 127.0.0.1 --save "" --appendonly no) >/dev/null 2>&1 || true
  for _ in $(seq 1 20); do redis-cli -u "$redis_url" ping >/dev/null 2>&1 && break; sleep 0.5; done
  redis-cli -u "$redis_url" ping >/dev/null 2>&1 || { echo "test-deps: Redis does not answer at $redis_url: start redis-server, or set SWITCHBOARD_TEST_SKIP=redis" >&2; exit 1; }
fi
say "ready"
