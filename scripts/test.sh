#!/usr/bin/env bash
# README command 2: install everything the tests need (Debian packages, Python packages,
# servers) and run lint plus the whole test suite.  Extra arguments go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Servers the tests start on 127.0.0.1 (tests/servers/).
apt_install nginx openssh-server openssh-client openssl
ensure_venv test

cd "$ROOT"
say "ruff check and format check"
ruff check .
ruff format --check .

say "pytest"
set +e
python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
    say "pytest collected no tests"
    rc=0
fi
exit "$rc"
