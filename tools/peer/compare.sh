#!/usr/bin/env bash
# Peer comparison: the same workloads in normlab and its peers, process by process, at 1 and 2 threads, the peers'
# order rotating each round, with a copy-bandwidth ceiling measured in every normlab and PyTorch 1.13 process and the
# load average recorded before and after. Prints the table and writes results.csv / results.json (tools/peer/report.py).
#   tools/peer/compare.sh [--peers normlab,torch113,torch27] [--infer] [--rounds R] [--seconds S] [--threads "1 2"]
#                         [--only TEXT] [--out DIR]
# Peers: normlab (normlab.bench.Peer), torch113 (Debian's PyTorch 1.13, peer_torch.py), torch27 (PyTorch 2.7.1
# through DJL: tools/peer/djl, built here on first use, which resolves ~110 MB of Maven artifacts once; its TorchScript
# modules are written by make_modules.py with PyTorch 1.13, and every one is checked against 1.13's outputs before it
# is timed). Default: --peers normlab,torch113.
# --infer adds the inference rows: the folded MLP and CNN at batch 1 and 64, normlab's Predictor and ONNX Runtime
# alternating in one JVM (normlab bench-infer) and, with torch27, PyTorch 2.7 eval in its own process.
# Peer install (Debian): apt-get install -y python3-torch libopenblas0-pthread
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=3; seconds=0.5; threads="1 2"; only=""; out="tools/peer/out/$(date -u +%Y%m%dT%H%M%SZ)"; peers="normlab,torch113"
infer=0
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2;;
    --seconds) seconds="$2"; shift 2;;
    --threads) threads="$2"; shift 2;;
    --only) only="$2"; shift 2;;
    --out) out="$2"; shift 2;;
    --peers) peers="$2"; shift 2;;
    --infer) infer=1; shift;;
    *) echo "compare.sh: unknown argument $1 (expected --peers, --infer, --rounds, --seconds, --threads, --only, --out)" >&2; exit 2;;
  esac
done
IFS=, read -r -a plist <<< "$peers"
for p in "${plist[@]}"; do
  case "$p" in normlab|torch113|torch27) ;; *) echo "compare.sh: --peers: unknown peer '$p' (expected normlab, torch113, torch27)" >&2; exit 2;; esac
done
has() { [[ ",$peers," == *",$1,"* ]]; }
py=/usr/bin/python3
"$py" -c 'import torch' 2>/dev/null || { echo "compare.sh: PyTorch missing for $py; install it with: apt-get install -y python3-torch libopenblas0-pthread" >&2; exit 1; }
jar=normlab-bench/target/benchmarks.jar
if has normlab && { [ ! -f "$jar" ] || [ -n "$(find normlab-core/src normlab-bench/src -newer "$jar" -name '*.java' | head -1)" ]; }; then
  mvn -B -q -DskipTests package -pl normlab-bench -am >&2
fi
mkdir -p "$out"
onlyarg=(); [ -n "$only" ] && onlyarg=(--only "$only")
djl=tools/peer/djl
mods="$out/torch27-modules"
if has torch27; then
  if [ ! -d "$djl/target/lib" ] || [ -n "$(find "$djl/src" "$djl/pom.xml" -newer "$djl/target/peer-torch27-1.jar" 2>/dev/null | head -1)" ] \
     || [ ! -f "$djl/target/peer-torch27-1.jar" ]; then
    echo "compare.sh: building the PyTorch 2.7 peer ($djl; first time: ~110 MB of Maven artifacts)" >&2
    mvn -B -q -f "$djl/pom.xml" package dependency:copy-dependencies >&2
  fi
fi
if [ "$infer" = 1 ]; then
  ./normlab --version >/dev/null 2>&1 || true  # builds normlab-lab/target/normlab.jar when stale
  java --add-modules jdk.incubator.vector -cp normlab-lab/target/normlab.jar tools/peer/MkInferModels.java "$out/infer-models" 2>/dev/null
fi
if has torch27; then
  inferarg=(); [ "$infer" = 1 ] && inferarg=(--infer-models "$out/infer-models")
  # without --infer, no inference modules; with --only, only the matching workloads
  "$py" $djl/make_modules.py "$mods" "${inferarg[@]}" "${onlyarg[@]}" >&2
  [ "$infer" = 1 ] || sed -i '/^infer /d' "$mods/index.txt"
  echo "compare.sh: checking PyTorch 2.7 against 1.13 on every module" >&2
  java -Dai.djl.offline=true -Dai.djl.pytorch.num_threads=1 -Dai.djl.pytorch.num_interop_threads=1 \
    -cp "$djl/target/classes:$djl/target/lib/*" normlab.peer.Torch27 --dir "$mods" --threads 1 --check-only 2>&1 \
    | grep -v '^Torch27: PyTorch' | tee "$out/torch27-check.txt" >&2
fi
{
  echo "date: $(date -u +%FT%TZ)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
  echo "java: $(java -version 2>&1 | head -1)"
  echo "torch: $("$py" -c 'import torch; print(torch.__version__, torch.backends.mkldnn.is_available() and "mkldnn" or "")')"
  has torch27 && echo "torch27: PyTorch 2.7.1 (libtorch from DJL 0.36.0 pytorch-native-cpu), TorchScript modules saved by 1.13"
  echo "peers: $peers$([ "$infer" = 1 ] && echo ', inference rows (normlab bench-infer: normlab and ONNX Runtime)')"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out/machine.txt"
# normlab's side runs as separate programs (kernels with the copy ceiling, the MLP, the CNN, the LSTM, the ViT), each
# JIT-compiled for what it runs; with --only, one program with that filter.
groups=("copy,fma,bn1d,bn2d,ln,gn32,in2d,rms" "mlp" "cnn" "lstm_clf" "vit")
[ -n "$only" ] && groups=("$only")

run_peer() {  # run_peer PEER THREADS
  local p="$1" t="$2"
  case "$p" in
    normlab)
      for g in "${groups[@]}"; do
        java --add-modules jdk.incubator.vector -Xmx6g -cp "$jar" normlab.bench.Peer --threads "$t" --seconds "$seconds" \
          --out "$out/raw-normlab.jsonl" --only "$g" 2>/dev/null
      done;;
    torch113)
      OMP_NUM_THREADS="$t" "$py" tools/peer/peer_torch.py --threads "$t" --seconds "$seconds" \
        --out "$out/raw-pytorch.jsonl" "${onlyarg[@]}" 2>/dev/null;;
    torch27)
      OMP_NUM_THREADS="$t" java -Dai.djl.offline=true -Dai.djl.pytorch.num_threads="$t" -Dai.djl.pytorch.num_interop_threads=1 \
        -cp "$djl/target/classes:$djl/target/lib/*" normlab.peer.Torch27 --dir "$mods" --threads "$t" --seconds "$seconds" \
        --out "$out/raw-torch27.jsonl" 2>/dev/null;;
    infer)  # normlab's Predictor and ONNX Runtime, alternating in chunks in one JVM, per model
      local reps chunk
      reps=$("$py" -c "print(max(3, round(10 * $seconds)))"); chunk=$("$py" -c "print(max(50, round(300 * $seconds)))")
      for m in mlp cnn; do
        local shape=(); [ "$m" = cnn ] && shape=(--input-shape 1,28,28)
        java --add-modules jdk.incubator.vector -Djava.awt.headless=true -jar normlab-lab/target/normlab.jar bench-infer \
          "$out/infer-models/$m.safetensors" "${shape[@]}" --batch 1,64 --threads "$t" --reps "$reps" --chunk-ms "$chunk" \
          --out "$out/infer-$m-t$t.csv" --force >/dev/null 2>&1
        "$py" - "$out/infer-$m-t$t.csv" "$m" "$out/raw-infer.jsonl" <<'EOF'
import csv, json, sys
src, model, dst = sys.argv[1:]
inner = "784" if model == "mlp" else "1,28,28"
with open(dst, "a") as out:
    for r in csv.DictReader(open(src)):
        if r["engine"] not in ("normlab", "ort"):
            continue
        out.write(json.dumps({"impl": r["engine"], "threads": int(r["threads"]), "workload": "infer_" + model,
                              "op": "infer_b" + r["batch"], "shape": f"[{r['batch']},{inner}]",
                              "ms": float(r["p50_us"]) / 1e3, "p99_ms": float(r["p99_us"]) / 1e3,
                              "samples_s": float(r["samples_per_s"]), "status": "ok",
                              "check": r["max_abs_diff"] and f"normlab vs ORT max abs diff {r['max_abs_diff']}" or None}) + "\n")
EOF
      done;;
  esac
}

units=("${plist[@]}")
[ "$infer" = 1 ] && units+=(infer)
n=${#units[@]}
for r in $(seq 1 "$rounds"); do
  for t in $threads; do
    for k in $(seq 0 $((n - 1))); do
      u="${units[$(( (k + r - 1) % n ))]}"
      echo "round $r/$rounds, $t thread(s): $u" >&2
      run_peer "$u" "$t"
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/machine.txt"
cat "$out/machine.txt"
"$py" tools/peer/report.py "$out" | tee "$out/table.md"
"$py" tools/peer/report.py "$out" --metric cpu > "$out/table-cpu.md"
echo "(process-CPU-time version: $out/table-cpu.md)"
