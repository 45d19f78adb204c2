"""The Figure 1 job (./normlab mnist) as a plain PyTorch script of the identical protocol, for the end-to-end comparison.

Same work as normlab's MnistExperiment: the 784-100-100-100-10 sigmoid network without BN (Linear(bias) -> Sigmoid) and
with BN (Linear(no bias) -> BatchNorm1d -> Sigmoid) before each hidden sigmoid, weights N(0, 0.01^2), biases zero, the
same initial weights for both; 50,000 steps of plain SGD (batch 60, lr 0.1, cross-entropy), reshuffled each epoch; every
500 steps (and at step 0) the test loss and accuracy over the 10,000 test images in batches of 1,000 in eval mode, and
the 15th/50th/85th percentiles of the input to unit 0 of the last hidden sigmoid. Pixels are byte/255. The script does
not checkpoint (normlab's job saves a crash-safe checkpoint every 30 s and writes charts and a report: it does more).

With --threads 1 both networks train one after the other on one thread; with --threads 2 they train at the same time in
two processes of one thread each, as normlab does (one thread per network).

Usage: /usr/bin/python3 tools/peer/fig1_torch.py [--data DIR] [--threads 1|2] [--steps 50000] [--out metrics.csv]
DIR holds the four MNIST idx files (normlab's cache: $NORMLAB_DATA/mnist or ~/.cache/normlab/mnist).
Prints one JSON line: wall seconds (process start to end, data loading included), per-network training and evaluation
seconds, final accuracies.
"""
import argparse
import json
import multiprocessing as mp
import os
import sys
import time

T_START = time.perf_counter()

# One thread per network, BLAS included: Debian's PyTorch uses OpenBLAS's pthreads, whose idle workers spin in
# sched_yield (a first full run without this got 5 % of a core, in involuntary switches); torch.set_num_threads does
# not reach them. Set before torch loads OpenBLAS.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402


def idx(path):
    with open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(d):
    def x(name):
        a = idx(os.path.join(d, name))
        return torch.from_numpy(a.reshape(a.shape[0], -1).astype(np.float32) / 255.0)

    def y(name):
        return torch.from_numpy(idx(os.path.join(d, name)).astype(np.int64))

    return (x("train-images-idx3-ubyte"), y("train-labels-idx1-ubyte"),
            x("t10k-images-idx3-ubyte"), y("t10k-labels-idx1-ubyte"))


def build(bn, std, gen):
    sizes = [784, 100, 100, 100, 10]
    layers = []
    for i in range(4):
        hidden = i < 3
        lin = nn.Linear(sizes[i], sizes[i + 1], bias=not (bn and hidden))
        with torch.no_grad():
            lin.weight.normal_(0.0, std, generator=gen)
            if lin.bias is not None:
                lin.bias.zero_()
        layers.append(lin)
        if hidden:
            if bn:
                layers.append(nn.BatchNorm1d(sizes[i + 1]))
            layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def run_variant(bn, a, queue=None):
    torch.set_num_threads(1)
    torch.manual_seed(a.seed)
    xtr, ytr, xte, yte = load(a.data)
    gen = torch.Generator().manual_seed(a.seed)  # the same initial weights for both variants
    model = build(bn, 0.01, gen)
    last_sigmoid = [m for m in model if isinstance(m, nn.Sigmoid)][-1]
    seen = []
    last_sigmoid.register_forward_hook(lambda m, inp, out: seen.append(inp[0][:, a.unit].detach().clone()))
    opt = torch.optim.SGD(model.parameters(), lr=a.lr)
    loss_fn = nn.CrossEntropyLoss()
    shuffle = torch.Generator().manual_seed(a.seed + 1)
    rows = []
    eval_s = 0.0

    def evaluate(step, train_loss):
        nonlocal eval_s
        t0 = time.perf_counter()
        model.eval()
        seen.clear()
        loss_sum, correct = 0.0, 0
        with torch.no_grad():
            for i in range(0, xte.shape[0], 1000):
                out = model(xte[i:i + 1000])
                loss_sum += loss_fn(out, yte[i:i + 1000]).item() * out.shape[0]
                correct += (out.argmax(1) == yte[i:i + 1000]).sum().item()
        q = torch.quantile(torch.cat(seen), torch.tensor([0.15, 0.50, 0.85])).tolist()
        model.train()
        rows.append((step, train_loss, loss_sum / xte.shape[0], correct / xte.shape[0], *q))
        eval_s += time.perf_counter() - t0

    evaluate(0, float("nan"))
    eval0 = eval_s  # before the training clock starts
    n, b = xtr.shape[0], a.batch
    order, pos = torch.randperm(n, generator=shuffle), 0
    loss_acc, loss_n = 0.0, 0
    t_train = time.perf_counter()
    for step in range(1, a.steps + 1):
        if pos + b > n:
            order, pos = torch.randperm(n, generator=shuffle), 0
        ix = order[pos:pos + b]
        pos += b
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xtr[ix]), ytr[ix])
        loss.backward()
        opt.step()
        loss_acc += loss.item()
        loss_n += 1
        if step % a.eval_every == 0:
            evaluate(step, loss_acc / loss_n)
            loss_acc, loss_n = 0.0, 0
    total = time.perf_counter() - t_train
    result = {"variant": "bn" if bn else "baseline", "train_s": total - (eval_s - eval0), "eval_s": eval_s,
              "final_accuracy": rows[-1][3], "rows": rows}
    if queue is not None:
        queue.put(result)
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_data = os.path.join(os.environ.get("NORMLAB_DATA", os.path.expanduser("~/.cache/normlab")), "mnist")
    p.add_argument("--data", default=default_data)
    p.add_argument("--threads", type=int, default=2, choices=[1, 2])
    p.add_argument("--steps", type=int, default=50_000)
    p.add_argument("--batch", type=int, default=60)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--eval-every", type=int, default=500)
    p.add_argument("--unit", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default=None, help="metrics CSV (both networks)")
    a = p.parse_args()
    if not os.path.isfile(os.path.join(a.data, "train-images-idx3-ubyte")):
        sys.exit(f"fig1_torch.py: no MNIST idx files in {a.data} (run ./normlab mnist once to fetch them, or pass --data DIR)")
    if a.threads == 1:
        results = [run_variant(False, a), run_variant(True, a)]
    else:
        ctx = mp.get_context("fork")
        q = ctx.Queue()
        procs = [ctx.Process(target=run_variant, args=(bn, a, q)) for bn in (False, True)]
        for pr in procs:
            pr.start()
        results = sorted([q.get() for _ in procs], key=lambda r: r["variant"] != "baseline")
        for pr in procs:
            pr.join()
    if a.out:
        with open(a.out, "w") as f:
            f.write("variant,step,train_loss,test_loss,test_accuracy,p15,p50,p85\n")
            for r in results:
                for row in r["rows"]:
                    f.write(r["variant"] + "," + ",".join(str(v) for v in row) + "\n")
    print(json.dumps({"peer": "torch" + torch.__version__, "threads": a.threads, "steps": a.steps,
                      "wall_s": time.perf_counter() - T_START,
                      **{r["variant"] + "_train_s": r["train_s"] for r in results},
                      **{r["variant"] + "_eval_s": r["eval_s"] for r in results},
                      **{r["variant"] + "_final_accuracy": r["final_accuracy"] for r in results}}))


if __name__ == "__main__":
    main()
