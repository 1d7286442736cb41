#!/usr/bin/env bash
# Install the Debian packages listed in packaging/debian-packages.txt that are missing.
# As root it installs them; as anyone else it prints the one apt-get line to run and fails.
set -euo pipefail
list="$(dirname "$0")/debian-packages.txt"
command -v dpkg-query >/dev/null || { echo "Not a Debian system: install the packages of $list by hand." >&2; exit 0; }
wanted=$(sed 's/#.*//' "$list" | tr -s ' \t' '\n' | sed '/^$/d')
missing=()
for pkg in $wanted; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages; run this once, then run make again:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
