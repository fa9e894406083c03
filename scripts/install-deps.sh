#!/usr/bin/env bash
# Installs what the build and the tests need, once. Safe to run again: it only acts on what is
# missing. Debian packages through apt-get, Python packages through pip.
set -euo pipefail

need_apt=()
for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done

if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then
        echo "install-deps: swift is at /opt/swift/usr/bin; add it to PATH" >&2
    else
        echo "install-deps: a Swift 6.1+ toolchain is required (https://swift.org/install)" >&2
    fi
    exit 1
fi

if [ ${#need_apt[@]} -gt 0 ]; then
    echo "install-deps: apt-get install ${need_apt[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
    # The test rig runs its own Dovecot (scripts/rig/dovecot.sh), never the system service: one
    # that this install started (Debian's postinst does where invoke-rc.d allows) is stopped and
    # disabled. A Dovecot installed before is not touched (only a fresh install gets here).
    if [[ " ${need_apt[*]} " == *" dovecot-core "* ]]; then
        if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
            $SUDO systemctl disable --now dovecot.service dovecot.socket >/dev/null 2>&1 || true
        else
            $SUDO service dovecot stop >/dev/null 2>&1 || true
            $SUDO update-rc.d dovecot disable >/dev/null 2>&1 || true
        fi
        echo "install-deps: stopped and disabled the system Dovecot service (the test rig runs its own)"
    fi
fi

# Python modules the test rig (scripts/rig) runs on: installed with pip only when the import fails.
need_pip=()
# (module to import, package to install): pytest-xdist runs the hostile suite's scenarios side by side.
for pair in aiosmtpd:aiosmtpd cryptography:cryptography pytest:pytest xdist:pytest-xdist; do
    python3 -c "import ${pair%%:*}" >/dev/null 2>&1 || need_pip+=("${pair#*:}")
done
if [ ${#need_pip[@]} -gt 0 ]; then
    echo "install-deps: pip install ${need_pip[*]}"
    if ! python3 -m pip --version >/dev/null 2>&1; then
        SUDO=""
        [ "$(id -u)" -eq 0 ] || SUDO="sudo"
        export DEBIAN_FRONTEND=noninteractive
        $SUDO apt-get update -qq
        $SUDO apt-get install -y -qq python3-pip >/dev/null
    fi
    # A Debian-managed python3 refuses plain pip installs (PEP 668); the rig needs the modules anyway.
    python3 -m pip install --quiet "${need_pip[@]}" 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages "${need_pip[@]}"
fi
