#!/usr/bin/env bash
# Runs the commands in README.md's fenced ```bash blocks, one by one from the repository root, and fails on the first
# that fails. A command ending in "# not run in CI: REASON" is skipped, and so are the README's two opening commands:
# .ci/run runs `mvn -B test` itself, and Figure 1 (quick) inside `reproduce --all --quick`; the full run takes minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
ran=0; skipped=0
while IFS= read -r cmd; do
  [ -z "${cmd// }" ] && continue
  bare="${cmd%%#*}"; bare="${bare%"${bare##*[![:space:]]}"}"
  if [[ "$cmd" =~ \#\ not\ run\ in\ CI: ]] || [ "$bare" = "./normlab mnist" ] || [ "$bare" = "mvn -B test" ]; then
    echo "check-readme: skip  $cmd"; skipped=$((skipped + 1)); continue
  fi
  echo "check-readme: run   $cmd"
  if ! bash -euo pipefail -c "$cmd" > target/check-readme.log 2>&1; then
    cat target/check-readme.log >&2
    echo "check-readme: FAILED: $cmd" >&2
    exit 1
  fi
  ran=$((ran + 1))
done < <(mkdir -p target; awk '/^```bash$/{c=1;next} c&&/^```$/{c=0} c' README.md)
echo "check-readme: $ran commands ran, $skipped skipped"
