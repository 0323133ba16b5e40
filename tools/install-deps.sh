#!/bin/sh
# Install Aurum's build and test dependencies from Debian 12 packages (run as root).
# Python/torch are only needed to regenerate the bundled models: see models/README.md.
# chromium renders the HTML report in the test suite (headless).
set -e
PKGS="build-essential meson ninja-build pkg-config libcjson-dev libsqlite3-dev libprotobuf-c-dev
protobuf-c-compiler libopenblas-dev zlib1g-dev sqlite3 dataset-fashion-mnist chromium"
# MPI scale-out (meson option mpi=auto; tests/campaigns/test_mpi.sh runs mpirun on loopback)
PKGS="$PKGS libopenmpi-dev openmpi-bin"
missing=""
for p in $PKGS; do
    dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
