"""Reads the JSON lines written by normlab.bench.Peer and peer_torch.py over several alternating rounds, takes the
median over rounds for each (threads, workload, op, shape, implementation), prints the comparison table and writes it
as results.csv and results.json next to the raw lines.

Implementations: normlab; "pytorch" = Debian's PyTorch 1.13 (peer_torch.py); "torch27" = PyTorch 2.7.1 through DJL
(tools/peer/djl); "ort" = ONNX Runtime (inference rows, from normlab bench-infer). Columns appear for those present.
Columns: median time per call; speedup vs each peer = peer time / normlab time (above 1: normlab is faster); GB/s of
minimal traffic (bytes counted by the workload: forward-train 3 passes, forward-eval 2, backward 5), steps/s for
training, samples/s for inference (batch / mean latency); normlab's fraction of the copy ceiling = GB/s / best copy
GB/s measured in the same run at that thread count (the in-cache copy ceiling for tensors of ≤ 16 MB per pass);
the run's vector FMA peak is printed below the table. Inference rows: the time is the p50 latency of one call.

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

    # inference rows after the training rows, whatever the order of the raw files
    order.sort(key=lambda k: k[2].startswith("infer_"))
    # ceilings of the run per thread count: copy from DRAM ("copy"), copy in cache ("copy_cache", the tensor size of the
    # one norm workload that fits in the last-level cache), best over the implementations; the vector FMA peak (normlab)
    copy_gbs, cache_gbs, fma_gflops = {}, {}, {}
    for key in order:
        t, w, op, shape = key
        if w == "copy":
            best = 0.0
            for impl, rs in groups[key].items():
                m = med(rs)
                if m:
                    best = max(best, rs[0]["bytes"] / (m * 1e-3) / 1e9)
            (cache_gbs if op == "copy_cache" else copy_gbs)[t] = best
        elif w == "fma":
            vals = [float(r["note"].split()[0]) for rs in groups[key].values() for r in rs if r.get("note")]
            if vals:
                fma_gflops[t] = statistics.median(vals)

    # normlab, then its peers in a fixed order: "pytorch" is Debian's PyTorch 1.13 (peer_torch.py), "torch27" PyTorch
    # 2.7.1 through DJL (tools/peer/djl), "ort" ONNX Runtime (inference rows, from normlab bench-infer)
    impls = [i for i in ("normlab", "pytorch", "torch27", "ort") if any(i in g for g in groups.values())]
    impls += sorted({i for g in groups.values() for i in g} - set(impls))
    peers = [i for i in impls if i != "normlab"]
    label = {"normlab": "normlab", "pytorch": "torch 1.13", "torch27": "torch 2.7", "ort": "ORT"}
    rows = []
    for key in order:
        t, w, op, shape = key
        g = groups[key]
        row = {"threads": t, "workload": w, "op": op, "shape": shape}
        allr = [r for i in impls for r in g.get(i, [])]
        row["rounds"] = max(len(g.get(i, [])) for i in impls)
        status = [r.get("status") for r in allr if r.get("status") != "ok"]
        notes = sorted({r.get("note") for r in allr if r.get("note")})
        row["status"] = status[0] if status else "ok"
        row["note"] = "; ".join(notes)
        row["check"] = next((r["check"] for r in allr if r.get("check")), None)
        nbytes = next((r["bytes"] for r in allr if r.get("bytes")), None)
        batch = int(shape.strip("[]").split(",")[0]) if op.startswith("infer_") else None
        for impl in impls:
            rs = g.get(impl, [])
            m = row[impl + "_ms"] = med(rs)
            row[impl + "_gbs"] = nbytes / (m * 1e-3) / 1e9 if (m and nbytes) else None
            row[impl + "_steps_s"] = 1e3 / m if (m and op == "train_step") else None
            # tensors that fit in the last-level cache (≤ 16 MB of traffic per pass) against the in-cache ceiling
            ceiling = cache_gbs.get(t) if (nbytes and nbytes <= 16 << 20 and cache_gbs.get(t)) else copy_gbs.get(t)
            row[impl + "_copy_frac"] = (row[impl + "_gbs"] / ceiling
                                        if (row[impl + "_gbs"] and ceiling and w not in ("copy", "fma")) else None)
            if batch:
                p99 = [r["p99_ms"] for r in rs if r.get("p99_ms")]
                sps = [r["samples_s"] for r in rs if r.get("samples_s")]
                row[impl + "_p99_ms"] = statistics.median(p99) if p99 else None
                row[impl + "_samples_s"] = statistics.median(sps) if sps else None
        for impl in peers:
            col = "speedup" if impl == "pytorch" else "speedup_" + impl
            row[col] = row[impl + "_ms"] / row["normlab_ms"] if (row.get("normlab_ms") and row[impl + "_ms"]) else None
        rows.append(row)

    fields = ["threads", "workload", "op", "shape", "rounds"] + [i + "_ms" for i in impls] + \
        [("speedup" if i == "pytorch" else "speedup_" + i) for i in peers] + [i + "_gbs" for i in impls] + \
        [i + "_copy_frac" for i in impls] + [i + "_steps_s" for i in impls] + [i + "_p99_ms" for i in impls] + \
        [i + "_samples_s" for i in impls] + ["status", "check", "note"]
    suffix = "" if metric == "wall" else "-cpu"
    with open(run_dir / f"results{suffix}.csv", "w", newline="") as f:
        wr = csv.DictWriter(f, fieldnames=fields)
        wr.writeheader()
        for r in rows:
            wr.writerow({k: r.get(k) for k in fields})
    (run_dir / f"results{suffix}.json").write_text(json.dumps({"metric": metric, "impls": impls, "copy_gbs": copy_gbs,
                                                              "copy_cache_gbs": cache_gbs, "fma_gflops": fma_gflops,
                                                              "rows": rows}, indent=1))
    print(f"time: {'median wall time per call' if metric == 'wall' else 'process CPU time per call'}; "
          "vs X = X's time / normlab's time (above 1: normlab is faster); rate = GB/s (norm kernels), steps/s (training) "
          "or samples/s (inference, whose time is the p50 latency)")

    def f(v, fmt):
        return "-" if v is None else format(v, fmt)

    hdr = ("| thr | workload | op | shape | " + " | ".join(label.get(i, i) + " ms" for i in impls) + " | " +
           " | ".join("vs " + label.get(i, i) for i in peers) + " | " +
           " | ".join(label.get(i, i) + " rate" for i in impls) + " | normlab %copy |")
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    for r in rows:
        if r["op"] == "train_step":
            rate = [f(r[i + "_steps_s"], ".0f") for i in impls]
        elif r["op"].startswith("infer_"):
            rate = [f(r.get(i + "_samples_s"), ".0f") for i in impls]
        else:
            rate = [f(r[i + "_gbs"], ".1f") for i in impls]
        sp = [f(r["speedup" if i == "pytorch" else "speedup_" + i], ".2f") + "x" for i in peers]
        nf = r["normlab_copy_frac"] if "normlab" in impls else None
        print(f"| {r['threads']} | {r['workload']} | {r['op']} | {r['shape']} | "
              + " | ".join(f(r[i + "_ms"], ".3f") for i in impls) + " | " + " | ".join(sp) + " | "
              + " | ".join(rate) + f" | {f(nf and 100 * nf, '.0f')}% |")
    for t in sorted({r["threads"] for r in rows}):
        if t in copy_gbs:
            print(f"threads {t}: copy ceiling {copy_gbs[t]:.1f} GB/s"
                  + (f", in cache {cache_gbs[t]:.1f} GB/s" if t in cache_gbs else ""))
        if t in fma_gflops:
            print(f"threads {t}: vector FMA peak {fma_gflops[t]:.1f} GFLOP/s")
        for i in peers:
            col = "speedup" if i == "pytorch" else "speedup_" + i
            for what, ops in (("norm kernels", ("fwd_train", "fwd_eval", "backward")), ("training steps", ("train_step",)),
                              ("inference", ("infer_b1", "infer_b64"))):
                sp = [r[col] for r in rows if r["threads"] == t and r["op"] in ops and r.get(col)]
                if sp:
                    print(f"threads {t}: {what} vs {label.get(i, i)}: median {statistics.median(sp):.2f}x, "
                          f"min {min(sp):.2f}x over {len(sp)}")
        mlp = {r["workload"]: r.get("normlab_ms") for r in rows if r["threads"] == t and r["op"] == "train_step"}
        if mlp.get("mlp") and mlp.get("mlp_bn"):
            print(f"threads {t}: BN adds {100 * (mlp['mlp_bn'] / mlp['mlp'] - 1):.1f}% to the normlab MLP step")
    bad = [r for r in rows if r["status"] != "ok"]
    for r in bad:
        print(f"status {r['status']}: threads {r['threads']} {r['workload']} {r['op']} {r['shape']} {r.get('check') or ''}")
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
