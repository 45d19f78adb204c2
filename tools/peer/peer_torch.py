"""PyTorch's half of the peer comparison: the same workloads as normlab.bench.Peer, timed the same way.

One JSON object per line (appended to --out): median seconds per call after warm-up, minimal traffic in bytes for the
norm kernels (forward-train 3 passes, forward-eval 2 or 3 without running statistics, backward 5), steps for training.
Backward is timed as torch.autograd.grad of one saved forward (inputs, weight and bias), the same work normlab's
backward does. RMSNorm does not exist in PyTorch 1.13: it is composed from its ops (x * rsqrt(mean(x^2) + eps) * w).

Usage: /usr/bin/python3 tools/peer/peer_torch.py --threads 1 --out r.jsonl [--seconds 0.5] [--only substring[,substring...]]
"""
import argparse
import json
import sys
import time

import torch
import torch.nn as nn


def timed(fn, seconds):
    end = time.perf_counter() + seconds * 2
    warm = 0
    while warm < 10 or time.perf_counter() < end:
        fn()
        warm += 1
    ts = []
    cpu0 = time.process_time()
    end = time.perf_counter() + seconds
    while len(ts) < 10 or (time.perf_counter() < end and len(ts) < 10000):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    global last_cpu
    last_cpu = (time.process_time() - cpu0) / len(ts)
    ts.sort()
    return ts[len(ts) // 2]


last_cpu = 0.0  # process CPU seconds per call of the last timed() measurement (all threads)


class RMSNorm(nn.Module):
    """RMSNorm as PyTorch 2.4 defines it, composed from 1.13 ops: y = x / sqrt(mean(x^2) + eps) * w."""

    def __init__(self, d, eps=None):
        super().__init__()
        self.eps = torch.finfo(torch.float32).eps if eps is None else eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Runner:
    def __init__(self, threads, seconds, only, out):
        self.threads, self.seconds, self.only, self.out = threads, seconds, only, out

    def wanted(self, name):
        # --only: one substring or several separated by commas, as normlab.bench.Peer takes it
        return self.only is None or any(part in name for part in self.only.split(","))

    def emit(self, workload, op, shape, sec, nbytes=None, status="ok", note=None):
        rec = {"impl": "pytorch", "threads": self.threads, "workload": workload, "op": op,
               "shape": str(list(shape)).replace(" ", "")}
        if sec:
            rec["ms"] = sec * 1e3
            rec["cpu_ms"] = last_cpu * 1e3
        if nbytes:
            rec["bytes"] = nbytes
        rec["status"] = status
        if note:
            rec["note"] = note
        line = json.dumps(rec)
        self.out.write(line + "\n")
        self.out.flush()
        print(line, file=sys.stderr)

    def copy(self):
        n = 32 << 20
        a = torch.ones(n)
        b = torch.empty(n)
        sec = timed(lambda: b.copy_(a), self.seconds)
        self.emit("copy", "copy", [n], sec, 2 * 4 * n)

    def norm(self, name, m, has_running, shape):
        if not self.wanted(name):
            return
        g = torch.Generator().manual_seed(7)
        x = torch.randn(*shape, generator=g)
        dy = torch.randn(*shape, generator=g)
        nbytes = 4 * x.numel()
        with torch.no_grad():
            m.train()
            self.emit(name, "fwd_train", shape, timed(lambda: m(x), self.seconds), 3 * nbytes)
            m.eval()
            self.emit(name, "fwd_eval", shape, timed(lambda: m(x), self.seconds), (2 if has_running else 3) * nbytes,
                      note=None if has_running else "no running statistics: eval computes them (3 passes)")
        m.train()
        xr = x.clone().requires_grad_(True)
        y = m(xr)
        params = [xr] + [p for p in m.parameters()]
        self.emit(name, "backward", shape,
                  timed(lambda: torch.autograd.grad(y, params, dy, retain_graph=True), self.seconds), 5 * nbytes)

    def train(self, name, model, x, classes):
        g = torch.Generator().manual_seed(3)
        labels = torch.randint(0, classes, (x.shape[0],), generator=g)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        loss_fn = nn.CrossEntropyLoss()
        model.train()

        def step():
            opt.zero_grad()
            loss = loss_fn(model(x), labels)
            loss.backward()
            opt.step()

        self.emit(name, "train_step", list(x.shape), timed(step, self.seconds))

    def mlp(self, bn):
        name = "mlp_bn" if bn else "mlp"
        if not self.wanted(name):
            return
        layers, d = [], 784
        for _ in range(3):
            layers.append(nn.Linear(d, 100))
            if bn:
                layers.append(nn.BatchNorm1d(100))
            layers.append(nn.Sigmoid())
            d = 100
        layers.append(nn.Linear(100, 10))
        self.train(name, nn.Sequential(*layers), torch.randn(60, 784), 10)

    def cnn(self, norm):
        name = "cnn_" + norm
        if not self.wanted(name):
            return
        n1 = nn.BatchNorm2d(32) if norm == "bn" else nn.GroupNorm(8, 32)
        n2 = nn.BatchNorm2d(64) if norm == "bn" else nn.GroupNorm(8, 64)
        model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), n1, nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(32, 64, 3, padding=1), n2, nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(64 * 7 * 7, 10))
        self.train(name, model, torch.randn(64, 1, 28, 28), 10)

    def lstm(self):
        """Sequence classifier: (64, 784) as 28 steps of 28 pixels, nn.LSTM(28, 128), last step, Linear(128, 10)."""
        if not self.wanted("lstm_clf"):
            return

        class Clf(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.LSTM(28, 128, batch_first=True)
                self.fc = nn.Linear(128, 10)

            def forward(self, x):
                return self.fc(self.rnn(x.view(-1, 28, 28))[0][:, -1])

        self.train("lstm_clf", Clf(), torch.randn(64, 784), 10)

    def vit(self):
        """normlab.models.Vit.mnist(): 7x7 patches of 28x28 (16 tokens), width 64, depth 6, 4 heads, MLP 128, pre-LN."""
        if not self.wanted("vit"):
            return
        import os
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
        from gen_transformer import Vit
        torch.manual_seed(4)
        self.train("vit", Vit(28, 1, 7, 64, 6, 4, 128, 10, True, "LayerNorm", False), torch.randn(64, 1, 28, 28), 10)

    def run_all(self):
        if self.wanted("copy"):
            self.copy()
        self.norm("bn1d", nn.BatchNorm1d(1024), True, (256, 1024))
        self.norm("bn2d", nn.BatchNorm2d(64), True, (32, 64, 56, 56))
        self.norm("bn2d", nn.BatchNorm2d(64), True, (64, 64, 56, 56))
        self.norm("ln", nn.LayerNorm(768), False, (8192, 768))
        self.norm("gn32", nn.GroupNorm(32, 64), False, (32, 64, 56, 56))
        self.norm("in2d", nn.InstanceNorm2d(64), False, (32, 64, 56, 56))
        self.norm("rms", RMSNorm(768), False, (8192, 768))
        self.mlp(False)
        self.mlp(True)
        self.cnn("bn")
        self.cnn("gn")
        self.lstm()
        self.vit()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, required=True)
    ap.add_argument("--seconds", type=float, default=0.5)
    ap.add_argument("--only")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    with open(a.out, "a") as out:
        Runner(a.threads, a.seconds, a.only, out).run_all()


if __name__ == "__main__":
    main()
