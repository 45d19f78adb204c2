#!/usr/bin/env bash
# The README's library quick-start, as a user would run it: install normlab into a local repository under target/
# (never ~/.m2), then build and run examples/quickstart/ against it. Also checks the README's code block is that file.
# Offline (-o) when the plugins and dependencies are already in ~/.m2; QUICKSTART_ONLINE=1 lets Maven download.
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD/target/quickstart-m2"
offline=(-o); [ "${QUICKSTART_ONLINE:-0}" = 1 ] && offline=()

# The README's ```java block under "Use it as a library" must be examples/quickstart/src/main/java/Quickstart.java.
mkdir -p target
awk '/^## Use it as a library/{s=1} s&&/^```java$/{c=1;next} c&&/^```$/{exit} c' README.md > target/readme-quickstart.java
if ! diff -u examples/quickstart/src/main/java/Quickstart.java target/readme-quickstart.java; then
  echo "check-quickstart: README's example differs from examples/quickstart/src/main/java/Quickstart.java" >&2
  exit 1
fi

# Seed the local repository from ~/.m2 (plugins, dependencies) so the offline build finds them; normlab's own
# artifacts come only from the install below.
mkdir -p "$repo"
if [ -d "$HOME/.m2/repository" ] && [ ! -e "$repo/.seeded" ]; then
  cp -rl "$HOME/.m2/repository/." "$repo/" 2>/dev/null || cp -r "$HOME/.m2/repository/." "$repo/"
  rm -rf "$repo/normlab"
  touch "$repo/.seeded"
fi
rm -rf "$repo/normlab"

mvn -B -q "${offline[@]}" -Dmaven.repo.local="$repo" -DskipTests -pl normlab-core -am install
cd examples/quickstart
rm -rf target
mvn -B -q "${offline[@]}" -Dmaven.repo.local="$repo" compile dependency:build-classpath -Dmdep.outputFile=target/classpath.txt
java --add-modules jdk.incubator.vector -cp "target/classes:$(cat target/classpath.txt)" Quickstart
echo "check-quickstart: examples/quickstart built and ran against the installed normlab-core"
