"""Reads the JSON lines written by normlab.bench.Peer and peer_torch.py over several alternating rounds, takes the
median over rounds for each (threads, workload, op, shape, implementation), prints the comparison table and writes it
as results.csv and results.json next to the raw lines.

Columns: median time per call; GB/s of minimal traffic (bytes counted by the workload: forward-train 3 passes,
forward-eval 2, backward 5); speedup = PyTorch time / normlab time (above 1: normlab is faster); fraction of the copy
ceiling = GB/s / best copy GB/s measured in the same run at that thread count. Training workloads show steps/s.

With --metric cpu the time is process CPU time per call instead of wall time: on a shared machine at 1 thread that
removes the time spent descheduled (at 2 threads it counts both threads' work, so it is not a wall time).

Usage: /usr/bin/python3 tools/peer/report.py RUN_DIR [--metric wall|cpu]
"""
import csv
import json
import statistics
import sys
from pathlib import Path


def main(run_dir, metric="wall"):
    run_dir = Path(run_dir)
    field = "ms" if metric == "wall" else "cpu_ms"
    recs = []
    for f in sorted(run_dir.glob("raw-*.jsonl")):
        for line in f.read_text().splitlines():
            if line.strip():
                recs.append(json.loads(line))
    groups = {}
    order = []
    for r in recs:
        key = (r["threads"], r["workload"], r["op"], r["shape"])
        if key not in groups:
            groups[key] = {}
            order.append(key)
        groups[key].setdefault(r["impl"], []).append(r)

    def med(rs):
        ms = [r[field] for r in rs if r.get("status") == "ok" and r.get(field)]
        return statistics.median(ms) if ms else None

    copy_gbs = {}
    for key in order:
        t, w, op, shape = key
        if w == "copy":
            best = 0.0
            for impl, rs in groups[key].items():
                m = med(rs)
                if m:
                    best = max(best, rs[0]["bytes"] / (m * 1e-3) / 1e9)
            copy_gbs[t] = best

    rows = []
    for key in order:
        t, w, op, shape = key
        g = groups[key]
        row = {"threads": t, "workload": w, "op": op, "shape": shape}
        nl, pt = g.get("normlab", []), g.get("pytorch", [])
        row["rounds"] = max(len(nl), len(pt))
        row["normlab_ms"], row["pytorch_ms"] = med(nl), med(pt)
        status = [r.get("status") for r in nl + pt if r.get("status") != "ok"]
        notes = sorted({r.get("note") for r in nl + pt if r.get("note")})
        row["status"] = status[0] if status else "ok"
        row["note"] = "; ".join(notes)
        nbytes = next((r["bytes"] for r in nl + pt if r.get("bytes")), None)
        for impl in ("normlab", "pytorch"):
            m = row[impl + "_ms"]
            row[impl + "_gbs"] = nbytes / (m * 1e-3) / 1e9 if (m and nbytes) else None
            row[impl + "_steps_s"] = 1e3 / m if (m and op == "train_step") else None
            row[impl + "_copy_frac"] = (row[impl + "_gbs"] / copy_gbs[t]
                                        if (row[impl + "_gbs"] and copy_gbs.get(t) and w != "copy") else None)
        row["speedup"] = row["pytorch_ms"] / row["normlab_ms"] if (row["normlab_ms"] and row["pytorch_ms"]) else None
        rows.append(row)

    fields = ["threads", "workload", "op", "shape", "rounds", "normlab_ms", "pytorch_ms", "speedup", "normlab_gbs",
              "pytorch_gbs", "normlab_copy_frac", "pytorch_copy_frac", "normlab_steps_s", "pytorch_steps_s", "status",
              "note"]
    suffix = "" if metric == "wall" else "-cpu"
    with open(run_dir / f"results{suffix}.csv", "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=fields)
        wr.writeheader()
        for r in rows:
            wr.writerow({k: r.get(k) for k in fields})
    (run_dir / f"results{suffix}.json").write_text(json.dumps({"metric": metric, "copy_gbs": copy_gbs, "rows": rows},
                                                            indent=1))
    print(f"time: {'median wall time per call' if metric == 'wall' else 'process CPU time per call'}; "
          "speedup = PyTorch time / normlab time")

    def f(v, fmt):
        return "-" if v is None else format(v, fmt)

    hdr = "| thr | workload | op | shape | normlab ms | PyTorch ms | speedup | normlab GB/s | PyTorch GB/s | normlab %copy | PyTorch %copy |"
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    for r in rows:
        if r["op"] == "train_step":
            print(f"| {r['threads']} | {r['workload']} | train_step | {r['shape']} | {f(r['normlab_ms'], '.3f')} | "
                  f"{f(r['pytorch_ms'], '.3f')} | {f(r['speedup'], '.2f')}x | {f(r['normlab_steps_s'], '.0f')} steps/s | "
                  f"{f(r['pytorch_steps_s'], '.0f')} steps/s | | |")
        else:
            nf = r["normlab_copy_frac"]
            pf = r["pytorch_copy_frac"]
            print(f"| {r['threads']} | {r['workload']} | {r['op']} | {r['shape']} | {f(r['normlab_ms'], '.3f')} | "
                  f"{f(r['pytorch_ms'], '.3f')} | {f(r['speedup'], '.2f')}x | {f(r['normlab_gbs'], '.1f')} | "
                  f"{f(r['pytorch_gbs'], '.1f')} | {f(nf and 100 * nf, '.0f')}% | {f(pf and 100 * pf, '.0f')}% |")
    for t in sorted(copy_gbs):
        sp = [r["speedup"] for r in rows if r["threads"] == t and r["op"] in ("fwd_train", "fwd_eval", "backward")
              and r["speedup"]]
        if sp:
            print(f"threads {t}: copy ceiling {copy_gbs[t]:.1f} GB/s; norm kernels: median speedup "
                  f"{statistics.median(sp):.2f}x, min {min(sp):.2f}x over {len(sp)}")
        mlp = {r["workload"]: r["normlab_ms"] for r in rows if r["threads"] == t and r["op"] == "train_step"}
        if mlp.get("mlp") and mlp.get("mlp_bn"):
            print(f"threads {t}: BN adds {100 * (mlp['mlp_bn'] / mlp['mlp'] - 1):.1f}% to the normlab MLP step")
    print(f"wrote {run_dir / f'results{suffix}.csv'} and {run_dir / f'results{suffix}.json'}")


if __name__ == "__main__":
    args = sys.argv[1:]
    metric = "wall"
    if "--metric" in args:
        i = args.index("--metric")
        metric = args[i + 1]
        del args[i:i + 2]
    if metric not in ("wall", "cpu"):
        sys.exit("report.py: --metric must be wall or cpu")
    main(args[0] if args else ".", metric)
