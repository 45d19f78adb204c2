#!/usr/bin/env bash
# tools/scale/run.sh ROUNDS CHUNK_SECONDS WORKLOADS CLASSES_A [CLASSES_B]: compiles ScaleRunner against CLASSES_A and
# runs ScaleAb (same-JVM alternation of 1 and 2 threads, and of two builds when CLASSES_B is given). JVM options in
# SCALE_JAVA_OPTS (e.g. -Dscale.served=0.8).
set -euo pipefail
cd "$(dirname "$0")/../.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
javac -d "$tmp/runner" -cp "$4" --add-modules jdk.incubator.vector tools/scale/ScaleRunner.java 2>&1 | grep -v -e '^warning' -e '^1 warning' >&2 || true
javac -d "$tmp/ab" tools/scale/ScaleAb.java
java --add-modules jdk.incubator.vector ${SCALE_JAVA_OPTS:-} -cp "$tmp/ab" ScaleAb "$tmp/runner" "$@" 2>&1 | grep -v 'WARNING: Using incubator'
