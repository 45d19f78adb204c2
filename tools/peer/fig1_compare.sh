#!/usr/bin/env bash
# Figure 1 end to end: `./normlab mnist` against tools/peer/fig1_torch.py (PyTorch 1.13, the identical protocol),
# alternating in the same run, the order rotated each round. Wall time of each whole command (process start to exit:
# JVM or interpreter start-up, data loading, 100,000 training steps, 202 evaluations; normlab also writes its charts,
# report and checkpoints). One JSON line per run in OUT.jsonl, a table at the end (median and range per engine).
#
# Usage: tools/peer/fig1_compare.sh [--threads 1,2] [--rounds 3] [--steps 50000] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."

threads=1,2 rounds=3 steps=50000 out=target/fig1-compare
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --rounds) rounds="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    *) echo "fig1_compare.sh: unknown option $1 (expected --threads, --rounds, --steps, --out)" >&2; exit 2 ;;
  esac
done
/usr/bin/python3 -c 'import torch' 2>/dev/null || { echo "fig1_compare.sh: /usr/bin/python3 has no torch (apt-get install python3-torch libopenblas0-pthread)" >&2; exit 1; }
mkdir -p "$out"
./normlab --version >/dev/null # builds the jar once, outside the timed runs
data="${NORMLAB_DATA:-$HOME/.cache/normlab}/mnist"
[ -f "$data/train-images-idx3-ubyte" ] || ./normlab mnist --steps 1 --out "$out/fetch" >/dev/null
log="$out/runs.jsonl"
: > "$log"

now() { date +%s.%N; }
run_normlab() {
  local t=$1 r=$2 t0 t1
  rm -rf "$out/normlab-t$t-r$r"
  t0=$(now)
  ./normlab mnist --threads "$t" --steps "$steps" --out "$out/normlab-t$t-r$r" > "$out/normlab-t$t-r$r.log" 2>&1
  t1=$(now)
  echo "{\"peer\":\"normlab\",\"threads\":$t,\"round\":$r,\"steps\":$steps,\"wall_s\":$(echo "$t1 - $t0" | bc),\"load\":\"$(cut -d' ' -f1 /proc/loadavg)\"}" >> "$log"
}
run_torch() {
  local t=$1 r=$2 t0 t1 line
  t0=$(now)
  line=$(/usr/bin/python3 tools/peer/fig1_torch.py --threads "$t" --steps "$steps" --data "$data" --out "$out/torch-t$t-r$r.csv")
  t1=$(now)
  echo "$line" | /usr/bin/python3 -c "import json,sys; d=json.loads(sys.stdin.read()); d.update(peer='torch113', round=$r, wall_s=$t1-$t0, load='$(cut -d' ' -f1 /proc/loadavg)'); print(json.dumps(d))" >> "$log"
}

for r in $(seq 1 "$rounds"); do
  for t in ${threads//,/ }; do
    if [ $((r % 2)) -eq 1 ]; then run_normlab "$t" "$r"; run_torch "$t" "$r"; else run_torch "$t" "$r"; run_normlab "$t" "$r"; fi
    tail -2 "$log"
  done
done

/usr/bin/python3 - "$log" <<'EOF'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| threads | engine | wall s, median (range) | runs |")
print("|---:|---|---:|---:|")
for t in sorted({r["threads"] for r in rows}):
    med = {}
    for peer in ("normlab", "torch113"):
        w = sorted(r["wall_s"] for r in rows if r["threads"] == t and r["peer"] == peer)
        if w:
            med[peer] = statistics.median(w)
            print(f"| {t} | {peer} | {med[peer]:.1f} ({w[0]:.1f}–{w[-1]:.1f}) | {len(w)} |")
    # per-round ratios (the two engines of one round ran back to back), then their median and range
    ratios = sorted(next(r["wall_s"] for r in rows if r["threads"] == t and r["peer"] == "torch113" and r["round"] == k)
                    / next(r["wall_s"] for r in rows if r["threads"] == t and r["peer"] == "normlab" and r["round"] == k)
                    for k in sorted({r["round"] for r in rows if r["threads"] == t})
                    if sum(1 for r in rows if r["threads"] == t and r["round"] == k) == 2)
    if ratios:
        print(f"| {t} | torch113 / normlab per round | **{statistics.median(ratios):.2f}×** ({ratios[0]:.2f}–{ratios[-1]:.2f}) | {len(ratios)} |")
EOF
