#!/usr/bin/env bash
# Gathers the two header-only dependencies (doctest, stb) into .deps/ for a GPU machine
# that has CUDA but cannot install Debian packages: run it here, then send .deps along
# with the working tree; bench/gpu_check.sh uses .deps/ when it is present.
#
#   bash bench/gpu_deps.sh              (needs doctest-dev and libstb-dev installed here)
#   bash bench/gpu_deps.sh --prebuilt   also builds hqlt and hqlt_tests with CUDA for sm_90
#                                       (H100/H200) in build-gpu-sm90/ and copies them, with
#                                       libgomp, into .prebuilt/: device time not spent on
#                                       building (HQLT_PREBUILT=.prebuilt bash bench/gpu_check.sh)
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

if [ "${1:-}" = "--prebuilt" ]; then
  cmake -S . -B build-gpu-sm90 -DCMAKE_BUILD_TYPE=Release -DHQLT_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 > /dev/null
  cmake --build build-gpu-sm90 -j "$(nproc)" --target hqlt hqlt_tests
  rm -rf .prebuilt
  mkdir -p .prebuilt/lib
  cp build-gpu-sm90/hqlt build-gpu-sm90/hqlt_tests .prebuilt/
  cp "$(ldd .prebuilt/hqlt_tests | awk '/libgomp/ {print $3}')" .prebuilt/lib/
  grep -qxF '/.prebuilt/' .git/info/exclude || echo '/.prebuilt/' >> .git/info/exclude
  echo "gpu_deps: wrote .prebuilt/ ($(du -sh .prebuilt | cut -f1))"
fi
