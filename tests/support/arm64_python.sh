#!/usr/bin/env bash
# An aarch64 CPython 3.13 (Lambda's version) for tests that run arm64 code under qemu-user: Debian 13's
# python3.13 with pytest and hypothesis, unpacked from Debian's arm64 packages into a sysroot, run as
#     qemu-aarch64-static -L SYSROOT SYSROOT/usr/bin/python3.13 …
# The packages come from the machine's own Debian mirror through a private apt state: the machine's
# sources, architectures and dpkg database stay as they are, and nothing is installed system-wide.
# Usage: bash tests/support/arm64_python.sh SYSROOT [PYTHON3.13]   (instant when SYSROOT is up to date)
# PYTHON3.13, a host CPython 3.13, precompiles the sysroot's modules (else each run compiles them under qemu).
set -euo pipefail
sysroot="$(realpath -m "$1")"
host_python="${2:-}"
suite=trixie  # Debian 13: its python3.13 stays 3.13 for the release's life
packages=(python3.13-minimal libpython3.13-stdlib python3-pytest python3-hypothesis)
stamp="$(cat "$0" | sha256sum | cut -c1-16)"  # a changed script rebuilds the sysroot

[ "$(cat "$sysroot/.parley-arm64-python" 2>/dev/null)" = "$stamp" ] && exit 0
mkdir -p "$(dirname "$sysroot")"
exec 9>"$sysroot.lock"
flock 9  # another test session may be building it
[ "$(cat "$sysroot/.parley-arm64-python" 2>/dev/null)" = "$stamp" ] && exit 0

# The archive this machine's own release comes from (no host is named here).
codename="$(. /etc/os-release && echo "${VERSION_CODENAME:?}")"
mirror="$(apt-get update --print-uris 2>/dev/null \
    | sed -n "s|^'\(.*\)/dists/$codename/InRelease'.*|\1|p" | head -n 1)"
if [ -z "$mirror" ]; then
    echo "arm64_python.sh: no Debian archive for '$codename' in this machine's apt sources" >&2
    exit 1
fi

work="$(mktemp -d "$sysroot.new.XXXXXX")"  # beside it: the final move is a rename
trap 'rm -rf "$work"' EXIT
chmod 755 "$work"  # apt downloads as its _apt user
mkdir -p "$work"/{sources.list.d,preferences.d,lists/partial,archives/partial,cache,root}
touch "$work/status"  # an empty dpkg database: apt fetches the whole dependency closure
echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" >"$work/sources.list"
apt=(apt-get -qq
    -o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts="$work/sources.list.d"
    -o Dir::Etc::Preferences="$work/preferences" -o Dir::Etc::PreferencesParts="$work/preferences.d"
    -o Dir::State::Lists="$work/lists" -o Dir::State::status="$work/status"
    -o Dir::Cache="$work/cache" -o Dir::Cache::Archives="$work/archives"
    -o APT::Architecture=arm64 -o APT::Architectures=arm64 -o Acquire::Languages=none)
echo "Fetching Debian $suite's arm64 python3.13 into $sysroot …" >&2
"${apt[@]}" update >&2
"${apt[@]}" install -y --download-only --no-install-recommends "${packages[@]}" >&2
for deb in "$work"/archives/*.deb; do
    dpkg-deb -x "$deb" "$work/root"
done
# Debian 13 merged /usr: binaries ask for /lib/ld-linux-aarch64.so.1, the packages put it in /usr/lib.
ln -s usr/lib "$work/root/lib"
ln -s usr/bin "$work/root/bin"
if [ -n "$host_python" ] && [ "$("$host_python" -c 'import sys; print(sys.implementation.cache_tag)')" = cpython-313 ]; then
    # Bytecode is the same on every architecture: the host compiles in seconds what qemu takes a minute for.
    "$host_python" -m compileall -q -j 0 "$work/root/usr/lib/python3.13" "$work/root/usr/lib/python3/dist-packages" >/dev/null || true
fi
echo "$stamp" >"$work/root/.parley-arm64-python"
rm -rf "$sysroot"
mv "$work/root" "$sysroot"
