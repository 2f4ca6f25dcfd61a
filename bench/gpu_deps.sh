#!/usr/bin/env bash
# Gathers the two header-only dependencies (doctest, stb) into .deps/ for a GPU machine
# that has CUDA but cannot install Debian packages: run it here, then send .deps along
# with the working tree; bench/gpu_check.sh uses .deps/ when it is present.
#
#   bash bench/gpu_deps.sh        (needs doctest-dev and libstb-dev installed here)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
for f in /usr/include/doctest/doctest.h /usr/lib/cmake/doctest/doctestConfig.cmake /usr/include/stb/stb_image_write.h; do
  [ -f "$f" ] || { echo "gpu_deps: $f is missing: apt-get install doctest-dev libstb-dev" >&2; exit 1; }
done
rm -rf .deps
mkdir -p .deps/include .deps/lib/cmake
cp -r /usr/include/doctest /usr/include/stb .deps/include/
cp -r /usr/lib/cmake/doctest .deps/lib/cmake/
# The exported target names /usr as its prefix; point it at .deps wherever .deps lands.
sed -i 's|^set(_IMPORT_PREFIX "/usr")|get_filename_component(_IMPORT_PREFIX "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)|' \
  .deps/lib/cmake/doctest/doctestTargets.cmake
grep -qxF '/.deps/' .git/info/exclude 2> /dev/null || echo '/.deps/' >> .git/info/exclude
echo "gpu_deps: wrote .deps/ ($(du -sh .deps | cut -f1))"
