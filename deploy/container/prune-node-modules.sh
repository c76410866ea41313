#!/bin/sh
# Removes from a production node_modules what Node never loads at run time: type declarations, source
# maps, TypeScript sources, Markdown, and better-sqlite3's build tree (only
# build/Release/better_sqlite3.node is loaded). Licence and notice files stay, and so does OPX itself
# when it is installed in that node_modules (its examples/ are Markdown runbooks the demo reads).
# Used by the Dockerfile, and by test/package.e2e.test.ts on the package it installs and runs.
set -eu
dir="${1:-node_modules}"
[ -d "$dir" ] || { echo "prune-node-modules: no directory $dir" >&2; exit 1; }
find "$dir" -path "$dir/opx" -prune -o -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \
  -o -name '*.map' -o -name '*.ts' -o -name '*.mts' -o -name '*.cts' -o -name '*.md' -o -name '*.markdown' \) \
  ! \( -iname 'LICEN[CS]E' -o -iname 'LICEN[CS]E[.-]*' -o -iname 'NOTICE' -o -iname 'NOTICE.*' \) \
  -exec rm -f {} +
sqlite="$dir/better-sqlite3"
if [ -d "$sqlite" ]; then
  rm -rf "$sqlite/deps" "$sqlite/src" "$sqlite/binding.gyp" "$sqlite/build/deps" "$sqlite/build/Makefile" \
    "$sqlite/build/config.gypi" "$sqlite/build/Release/obj" "$sqlite/build/Release/obj.target" \
    "$sqlite/build/Release/.deps" "$sqlite/build/Release/sqlite3.a" "$sqlite/build/Release/test_extension.node"
  find "$sqlite/build" -maxdepth 1 -name '*.mk' -delete 2>/dev/null || true
fi
