#!/usr/bin/env bash
# Fuzzes normlab's file parsers with Jazzer (standalone driver, libFuzzer engine) for as long as asked.
#
#   tools/fuzz.sh                      # every target, 10 minutes each
#   tools/fuzz.sh 3600 Safetensors     # one target for an hour
#
# Targets are the test classes normlab.fuzz.<Name>FuzzTest (their static fuzzerTestOneInput). The committed inputs in
# normlab-core/src/test/resources/normlab/fuzz/<Name>FuzzTestInputs/<method>/ seed the run; the growing corpus is kept in
# normlab-core/target/fuzz-corpus/<Name>/ across runs. A crash stops the run and leaves crash-<sha1> in
# normlab-core/target/fuzz-findings/: fix the parser, then copy the file next to the seeds so every test run replays it.
set -euo pipefail
cd "$(dirname "$0")/../normlab-core"
seconds="${1:-600}"; shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in src/test/java/normlab/fuzz/*FuzzTest.java; do n=$(basename "$f" .java); targets+=("${n%FuzzTest}"); done
fi
mvn -B -q test-compile dependency:build-classpath -Dmdep.outputFile=target/fuzz-classpath.txt -Dmdep.includeScope=test
cp="target/classes:target/test-classes:$(cat target/fuzz-classpath.txt)"
mkdir -p target/fuzz-findings
for t in "${targets[@]}"; do
  corpus="target/fuzz-corpus/$t"; mkdir -p "$corpus"
  seeds=(src/test/resources/normlab/fuzz/"${t}"FuzzTestInputs/*/)
  echo "== fuzzing $t for ${seconds}s"
  java --add-modules jdk.incubator.vector -Xmx2g -cp "$cp" com.code_intelligence.jazzer.Jazzer \
    --target_class="normlab.fuzz.${t}FuzzTest" --instrumentation_includes='normlab.**' \
    -max_total_time="$seconds" -rss_limit_mb=3000 -artifact_prefix=target/fuzz-findings/ \
    "$corpus" "${seeds[@]}"
done
