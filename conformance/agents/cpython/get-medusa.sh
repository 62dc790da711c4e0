#!/bin/sh
# get-medusa.sh: Supervisor's copy of medusa's asyncore/asynchat
# (supervisor.medusa.asyncore_25 / asynchat_25) for the Python agent, taken
# from Debian's `supervisor` package WITHOUT installing it (no service, no
# user, nothing outside DIR): apt-get download, dpkg-deb -x, and only its
# Python tree kept, as DIR/python.
# Usage: get-medusa.sh DIR.  Idempotent: a DIR already extracted is kept.
# Prints the sys.path directory to give the agent (--path) on success.
# Exit: 0 ready, 1 the package cannot be had (the reason on stderr), 2 usage.
set -u
[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
dir=$1
py=$dir/python
stamp=$dir/.extracted
if [ -f "$stamp" ] && [ -f "$py/supervisor/medusa/asynchat_25.py" ]; then
    echo "$py"
    exit 0
fi
# One line, the reason last: the matrix quotes the last line as its SKIP.
fail() {
    echo "get-medusa: no medusa copy (Debian's supervisor package, apt-get download +" \
         "dpkg-deb -x; nothing installed): $*" >&2
    rm -rf "$dir.tmp"
    exit 1
}
for tool in apt-get dpkg-deb; do
    command -v "$tool" >/dev/null 2>&1 || fail "'$tool' is not available (not a Debian system?)"
done
rm -rf "$dir.tmp"
mkdir -p "$dir.tmp" || fail "cannot create $dir.tmp"
# As root, apt's download sandbox user cannot write here: download as root.
download() {
    (cd "$dir.tmp" && apt-get -q -o APT::Sandbox::User=root download supervisor) \
        >"$dir.tmp/apt.log" 2>&1
}
if ! download; then
    # An empty or old package list is the usual cause: refresh it once.
    if [ "$(id -u)" = 0 ]; then
        echo "get-medusa: apt-get download failed; running apt-get update once" >&2
        apt-get -q update >"$dir.tmp/update.log" 2>&1 ||
            fail "apt-get update failed: $(tail -n 1 "$dir.tmp/update.log")"
        download || fail "apt-get download supervisor failed: $(tail -n 1 "$dir.tmp/apt.log")"
    else
        fail "apt-get download supervisor failed: $(tail -n 1 "$dir.tmp/apt.log")" \
             "(as root, 'apt-get update' first may help)"
    fi
fi
deb=$(ls "$dir.tmp"/supervisor_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "apt-get download left no supervisor_*.deb"
dpkg-deb -x "$deb" "$dir.tmp/root" || fail "dpkg-deb -x $deb failed"
[ -f "$dir.tmp/root/usr/lib/python3/dist-packages/supervisor/medusa/asynchat_25.py" ] ||
    fail "$(basename "$deb") has no supervisor/medusa/asynchat_25.py"
# Only the Python tree is kept: the package's configuration (etc/...conf.d)
# and service files have no business under build/.
rm -rf "$dir"
mkdir -p "$dir" && mv "$dir.tmp/root/usr/lib/python3/dist-packages" "$py" &&
    basename "$deb" >"$stamp" && rm -rf "$dir.tmp" ||
    fail "cannot move the extracted tree to $dir"
echo "get-medusa: $(cat "$stamp") extracted under $dir" >&2
echo "$py"
