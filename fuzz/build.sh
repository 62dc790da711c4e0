#!/bin/bash -eu
# fuzz/build.sh: builds the fuzz targets the way OSS-Fuzz and
# ClusterFuzzLite do: the compiler and flags come from $CC, $CFLAGS, $CXX,
# $CXXFLAGS and $LIB_FUZZING_ENGINE, and everything lands in $OUT: each
# target fuzz_<h>, its <target>_seed_corpus.zip, .dict and .options.
# Run from anywhere; $SRC/achat (OSS-Fuzz) or this checkout is the source.
#   OUT=/tmp/out CC=clang CXX=clang++ \
#   CFLAGS="-fsanitize=address,undefined -fsanitize=fuzzer-no-link" \
#   LIB_FUZZING_ENGINE=-fsanitize=fuzzer fuzz/build.sh

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
: "${OUT:?set OUT to the output directory}"
: "${CC:=clang}" "${CXX:=clang++}" "${CFLAGS:=}" "${CXXFLAGS:=}"
: "${LIB_FUZZING_ENGINE:=-fsanitize=fuzzer}"
mkdir -p "$OUT"

# FUZZ_AVOID_KNOWN_BUGS: the bugs listed in fuzz/known-failures.txt are
# known; continuous fuzzing should look for new ones.  FUZZ_CAMPAIGN: skip
# inputs too slow to be worth fuzzing (fuzz_case_parser's too_costly).
DEFS="-std=c11 -D_GNU_SOURCE -DFUZZ_AVOID_KNOWN_BUGS=1 -DFUZZ_CAMPAIGN=1"
INC="-Iref/include -Iref/src -Iconformance/include -Iconformance/src -Ifuzz"
LIB_SRC=$(ls ref/src/*.c)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Compiles the given C files with $CC $CFLAGS and links them with the
# engine through $CXX (the engine is C++), as OSS-Fuzz expects.
build_target() {
    local name=$1
    shift
    local objs=()
    mkdir -p "$WORK/$name"
    for src in "$@"; do
        local obj="$WORK/$name/$(basename "$src" .c).o"
        # shellcheck disable=SC2086 # flags are word lists
        $CC $CFLAGS $DEFS $INC -c "$src" -o "$obj"
        objs+=("$obj")
    done
    # shellcheck disable=SC2086
    $CXX $CXXFLAGS "${objs[@]}" $LIB_FUZZING_ENGINE -pthread -o "$OUT/$name"
}

# The seed corpus: the committed corpus and every regression input except
# the known, unfixed failures.
seed_zip() {
    local h=$1 zip="$OUT/fuzz_${h}_seed_corpus.zip" list="$WORK/$h.list"
    local -A seen=()
    : > "$list"
    for f in fuzz/corpus/"$h"/* fuzz/regressions/"$h"/*; do
        local name
        name=$(basename "$f")
        # Content-hash names: the same name in both is the same input.
        [ -f "$f" ] && [ -z "${seen[$name]:-}" ] || continue
        seen[$name]=1
        grep -q "$name" fuzz/known-failures.txt && continue
        echo "$f" >> "$list"
    done
    rm -f "$zip"
    if command -v zip >/dev/null; then
        zip -q -j "$zip" -@ < "$list"
    else
        python3 - "$zip" "$list" <<'EOF'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w') as z, open(sys.argv[2]) as names:
    for line in names:
        z.write(line.strip(), os.path.basename(line.strip()))
EOF
    fi
}

# The framing core and the FIFO are socket-free: their targets link only
# the file under test, which keeps the coverage map small and fast.
build_target fuzz_framing fuzz/fuzz_framing.c fuzz/oracle_framing.c ref/src/framer.c
build_target fuzz_fifo fuzz/fuzz_fifo.c ref/src/fifo.c
# shellcheck disable=SC2086 # LIB_SRC is a list of files without spaces
build_target fuzz_loop fuzz/fuzz_loop.c $LIB_SRC
build_target fuzz_case_parser fuzz/fuzz_case_parser.c conformance/src/case.c

for h in framing fifo loop case_parser; do
    seed_zip "$h"
    cp "fuzz/$h.dict" "$OUT/fuzz_$h.dict"
    cp "fuzz/$h.options" "$OUT/fuzz_$h.options"
done
echo "fuzz/build.sh: targets, seed corpora, dictionaries and options in $OUT"
