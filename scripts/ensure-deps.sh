#!/usr/bin/env bash
# ensure-deps.sh: makes sure the Debian packages the build and the checks use
# are present.  Installs what is missing when run as root (apt-get), prints
# the exact command otherwise.  Usage: ensure-deps.sh [group...]
#   groups: build (default: gcc make pkg-config check), check (valgrind clang
#   python3 + libclang-rt for sanitizers), fuzz (afl++), browser (chromium),
#   bench (libevent-dev for the peer server, valgrind, python3, taskset).
set -u

want=()
need() { want+=("$1"); }

has_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(build)
for g in "${groups[@]}"; do
  case "$g" in
    build)
      command -v cc >/dev/null || need gcc
      command -v make >/dev/null || need make
      command -v pkg-config >/dev/null || need pkg-config
      pkg-config --exists check 2>/dev/null || { need check; need libsubunit-dev; }
      ;;
    check)
      command -v valgrind >/dev/null || need valgrind
      command -v clang >/dev/null || need clang
      has_pkg libclang-rt-14-dev || need libclang-rt-14-dev
      command -v python3 >/dev/null || need python3
      ;;
    bench)
      pkg-config --exists libevent 2>/dev/null || need libevent-dev
      command -v valgrind >/dev/null || need valgrind
      command -v python3 >/dev/null || need python3
      command -v taskset >/dev/null || need util-linux
      ;;
    fuzz)
      command -v afl-clang-fast >/dev/null || need afl++
      ;;
    browser)
      command -v chromium >/dev/null || need chromium
      ;;
    *) echo "ensure-deps.sh: unknown group '$g'" >&2; exit 2 ;;
  esac
done

[ ${#want[@]} -eq 0 ] && exit 0
echo "ensure-deps.sh: missing Debian packages: ${want[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "ensure-deps.sh: run as root:  apt-get update && apt-get install -y ${want[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! apt-get install -y -q "${want[@]}" >/dev/null 2>&1; then
  apt-get update -q >/dev/null 2>&1
  apt-get install -y -q "${want[@]}" >&2 || { echo "ensure-deps.sh: apt-get install failed" >&2; exit 1; }
fi
echo "ensure-deps.sh: installed ${want[*]}" >&2
