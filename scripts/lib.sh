# Shared set-up for scripts/demo.sh and scripts/test.sh: sourced, not run.
# Installs what is missing (Debian packages as root, a virtual environment with the
# project), so both commands work on a fresh Debian or Ubuntu machine.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${PEGASUS_LITE_VENV:-$ROOT/.venv}

say() { printf '[pegasus-lite] %s\n' "$*" >&2; }

# apt_install PKG...: install the Debian packages that are not installed yet.
apt_install() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
            || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        command -v sudo >/dev/null || { say "need root to install: ${missing[*]}"; return 1; }
        sudo=sudo
    fi
    say "installing Debian packages: ${missing[*]}"
    # Keep package scripts from starting services (nginx on port 80, sshd, ...): the tests
    # start their own copies on loopback at free ports.
    local policy=/usr/sbin/policy-rc.d own_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
        $sudo chmod 755 "$policy"
        own_policy=1
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
    [ -n "$own_policy" ] && $sudo rm -f "$policy"
    return 0
}

# ensure_python: a python3 >= 3.9 that can make virtual environments.
ensure_python() {
    if ! command -v python3 >/dev/null 2>&1 \
        || ! python3 -c 'import sys, venv, ensurepip; assert sys.version_info >= (3, 9)' 2>/dev/null; then
        apt_install python3 python3-venv
    fi
}

# ensure_venv [EXTRAS]: the project installed (editable) into $VENV with those extras.
ensure_venv() {
    local extras=${1:-}
    ensure_python
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating virtual environment $VENV"
        python3 -m venv "$VENV"
    fi
    local target="$ROOT"
    [ -n "$extras" ] && target="$ROOT[$extras]"
    say "installing pegasus-lite${extras:+[$extras]} into $VENV"
    "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$target"
    export PATH="$VENV/bin:$PATH"
}
