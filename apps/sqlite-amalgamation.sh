#!/usr/bin/env bash
# Make the SQLite amalgamation and the shell's source from SQLite's full source tree (Debian's sqlite3 source
# package ships the tree, not the amalgamation):
#
#   sqlite-amalgamation.sh SOURCE_TREE OUTPUT_DIR
#
# Runs SQLite's configure and `make sqlite3.c shell.c` in OUTPUT_DIR/work (they need a host C compiler and
# tclsh), then copies sqlite3.c, sqlite3.h and shell.c into OUTPUT_DIR. Only the generated sources are used: the
# program itself is compiled by apps/CMakeLists.txt for musl.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 SOURCE_TREE OUTPUT_DIR" >&2
    exit 2
fi
tree=$(cd "$1" && pwd)
out=$2

if ! command -v tclsh >/dev/null; then
    echo "sqlite-amalgamation: tclsh is missing (install tcl: scripts/install-deps.sh)" >&2
    exit 1
fi

rm -rf "$out/work"
mkdir -p "$out/work"
cd "$out/work"
if ! "$tree/configure" --disable-tcl --disable-readline --disable-editline --disable-load-extension \
    >configure.log 2>&1; then
    tail -n 30 configure.log >&2
    echo "sqlite-amalgamation: configure failed (log above, $out/work/configure.log)" >&2
    exit 1
fi
if ! make sqlite3.c shell.c >make.log 2>&1; then
    tail -n 30 make.log >&2
    echo "sqlite-amalgamation: make sqlite3.c shell.c failed (log above, $out/work/make.log)" >&2
    exit 1
fi
for file in sqlite3.c sqlite3.h shell.c; do
    cp "$file" "$out/$file.tmp"
    mv "$out/$file.tmp" "$out/$file"
done
cd "$out"
rm -rf "$out/work"
