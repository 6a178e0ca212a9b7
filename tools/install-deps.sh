#!/usr/bin/env bash
# install-deps.sh - installs the Debian packages ntmem needs that are missing (apt-get update first).
# Usage: tools/install-deps.sh [build|bench]   (bench adds the allocators the benchmarks compare with)
set -eu
want=(cmake:cmake gcc:gcc g++:g++ make:make pkg-config:pkg-config)
libs=(check:check libdw:libdw-dev)
headers=(/usr/include/valgrind/valgrind.h:valgrind)
if [ "${1:-build}" = bench ]; then
  headers+=(/usr/include/mimalloc.h:libmimalloc-dev /usr/include/jemalloc/jemalloc.h:libjemalloc-dev
            /usr/include/gperftools/tcmalloc.h:libgoogle-perftools-dev)
fi
missing=()
for w in "${want[@]}"; do command -v "${w%%:*}" >/dev/null 2>&1 || missing+=("${w#*:}"); done
for l in "${libs[@]}"; do
  if ! command -v pkg-config >/dev/null 2>&1 || ! pkg-config --exists "${l%%:*}"; then missing+=("${l#*:}"); fi
done
for h in "${headers[@]}"; do [ -e "${h%%:*}" ] || missing+=("${h#*:}"); done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
