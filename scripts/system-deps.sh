#!/usr/bin/env bash
# Make sure the Debian packages a step needs are installed; install the missing ones when we can.
#   build: what compiling python-ldap needs (the only dependency without a wheel), gettext for the translations
#          and xmlsec1, which checks and makes the signatures of SAML single sign-on (pysaml2 runs it)
#   test:  the real services the suite starts or talks to, and the browser
#   node:  Node.js and npm, to install axe-core for the browser suite (when npm is missing)
# usage: scripts/system-deps.sh build|test|node
set -euo pipefail

case "${1:-}" in
  build) packages=(gcc libldap2-dev libsasl2-dev gettext xmlsec1) ;;
  test)  packages=(gcc libldap2-dev libsasl2-dev gettext xmlsec1 slapd ldap-utils chromium postgresql redis-server) ;;
  node)  packages=(nodejs npm) ;;  # npm ci of axe-core for the browser suite, where the machine has no npm
  *) echo "usage: $0 build|test|node" >&2; exit 2 ;;
esac

missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "Missing system packages: ${missing[*]} (install them with your package manager)." >&2
  exit 1
fi
if [ "$(id -u)" -eq 0 ]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
  echo "Missing system packages: ${missing[*]}. Run: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi

echo "Installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# slapd and postgresql start system services when installed; the suite runs its own
# throwaway instances, so tell Debian's maintainer scripts not to start anything.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ] && [ "$(id -u)" -eq 0 ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod +x "$policy"; created_policy=1
fi
trap '[ $created_policy -eq 1 ] && rm -f "$policy"' EXIT
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
