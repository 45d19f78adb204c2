#!/usr/bin/env bash
# Same-JVM A/B of two builds of normlab-core: REV (built in a temporary git worktree) against the working tree, both
# loaded into one JVM by separate class loaders and timed in alternating chunks, so that both see the same phases of
# a noisy machine (this repository's speed claims of "same-JVM A/B" come from here).
#   tools/ab/ab.sh REV gemm [OP] n:k:m ...      one Gemm product (OP matmulNT | matmulNN | matmulTN; see AB.java)
#   tools/ab/ab.sh REV step MODE [PER ROUNDS]   whole steps (MODE step | stepbn | eval | cnnbn | cnngn; see StepRunner.java)
set -euo pipefail
cd "$(dirname "$0")/../.."
[ $# -ge 3 ] || { sed -n '2,6p' "$0" >&2; exit 2; }
rev="$1"; what="$2"; shift 2
tmp="$(mktemp -d)"; wt="$tmp/a"
git worktree add -q --detach "$wt" "$rev"
trap 'git worktree remove --force "$wt"; rm -rf "$tmp"' EXIT
(cd "$wt" && mvn -B -q -DskipTests package -pl normlab-core -am >&2)
mvn -B -q -DskipTests package -pl normlab-core -am >&2
b=normlab-core/target/classes
javac -d "$tmp/ab" tools/ab/AB.java tools/ab/ABStep.java
javac -d "$tmp/runner" -cp "$b" --add-modules jdk.incubator.vector tools/ab/StepRunner.java 2>&1 | grep -v -e '^warning' -e '^1 warning' >&2 || true
run() { java --add-modules jdk.incubator.vector "$@" 2>&1 | grep -v 'WARNING: Using incubator'; }
case "$what" in
  gemm)
    op=matmulNT
    case "${1:-}" in matmul*) op="$1"; shift;; esac
    run -Dop="$op" -cp "$tmp/ab" AB "$wt/$b" "$b" "$@";;
  step)
    run -cp "$tmp/ab" ABStep "$wt/$b" "$b" "$tmp/runner" "$1" "${2:-200}" "${3:-100}";;
  *) echo "ab.sh: unknown kind $what (gemm or step)" >&2; exit 2;;
esac
