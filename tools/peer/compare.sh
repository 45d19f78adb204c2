#!/usr/bin/env bash
# Peer comparison: the same workloads in normlab and PyTorch, alternating process by process, at 1 and 2 threads,
# with a copy-bandwidth ceiling measured in every process. Prints the table and writes results.csv / results.json.
#   tools/peer/compare.sh [--rounds R] [--seconds S] [--threads "1 2"] [--only TEXT] [--out DIR]
# Peer install (Debian): apt-get install -y python3-torch libopenblas0-pthread
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=3; seconds=0.5; threads="1 2"; only=""; out="tools/peer/out/$(date -u +%Y%m%dT%H%M%SZ)"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2;;
    --seconds) seconds="$2"; shift 2;;
    --threads) threads="$2"; shift 2;;
    --only) only="$2"; shift 2;;
    --out) out="$2"; shift 2;;
    *) echo "compare.sh: unknown argument $1" >&2; exit 2;;
  esac
done
py=/usr/bin/python3
"$py" -c 'import torch' 2>/dev/null || { echo "compare.sh: PyTorch missing for $py; install it with: apt-get install -y python3-torch libopenblas0-pthread" >&2; exit 1; }
jar=normlab-bench/target/benchmarks.jar
if [ ! -f "$jar" ] || [ -n "$(find normlab-core/src normlab-bench/src -newer "$jar" -name '*.java' | head -1)" ]; then
  mvn -B -q -DskipTests package -pl normlab-bench -am >&2
fi
mkdir -p "$out"
onlyarg=(); [ -n "$only" ] && onlyarg=(--only "$only")
{
  echo "date: $(date -u +%FT%TZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
  echo "java: $(java -version 2>&1 | head -1)"
  echo "torch: $("$py" -c 'import torch; print(torch.__version__, torch.backends.mkldnn.is_available() and "mkldnn" or "")')"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out/machine.txt"
# normlab's side runs as three programs (kernels with the copy ceiling, the MLP, the CNN), each JIT-compiled for what it
# runs; with --only, one program with that filter.
groups=("copy,bn1d,bn2d,ln,gn32,in2d,rms" "mlp" "cnn")
[ -n "$only" ] && groups=("$only")
for r in $(seq 1 "$rounds"); do
  for t in $threads; do
    echo "round $r/$rounds, $t thread(s): normlab" >&2
    for g in "${groups[@]}"; do
      java --add-modules jdk.incubator.vector -Xmx6g -cp "$jar" normlab.bench.Peer --threads "$t" --seconds "$seconds" \
        --out "$out/raw-normlab.jsonl" --only "$g" 2>/dev/null
    done
    echo "round $r/$rounds, $t thread(s): pytorch" >&2
    OMP_NUM_THREADS="$t" "$py" tools/peer/peer_torch.py --threads "$t" --seconds "$seconds" \
      --out "$out/raw-pytorch.jsonl" "${onlyarg[@]}" 2>/dev/null
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"
cat "$out/machine.txt"
"$py" tools/peer/report.py "$out" | tee "$out/table.md"
"$py" tools/peer/report.py "$out" --metric cpu > "$out/table-cpu.md"
echo "(process-CPU-time version: $out/table-cpu.md)"
