"""Writes the workloads of the peer comparison as TorchScript modules, saved by Debian's PyTorch 1.13, for the
PyTorch 2.7.1 peer (tools/peer/djl, libtorch 2.7.1 through DJL) to load and time. Every module carries its inputs as
buffers and the outputs PyTorch 1.13 computed from them, so the 2.7 runner checks that it times the same computation.

Why TorchScript: DJL's raw ops have no group_norm and cost one JNI call per op; a scripted module runs the same native
aten ops as peer_torch.py's eager modules (batch_norm, layer_norm, group_norm, instance_norm, conv2d, lstm,
multi-head attention, ...) in one call, and whole training steps (forward, loss, autograd, SGD update) in one call.
RMSNorm is composed from ops, as in peer_torch.py (1.13 has no RMSNorm).

Modules (one .pt file each, NAME.pt, listed in index.txt as "kind name shape file"):
  norm:  methods fwd(train) (under no_grad, as peer_torch.py), make_graph() -> [y, x] (one saved forward),
         bwd(y, x) -> grads of x and the parameters (retain_graph, as peer_torch.py), check() -> relative max
         differences [fwd_train, fwd_eval, backward] against 1.13's outputs (run once, first, on a fresh module).
  train: step() -> loss (forward, cross-entropy, torch.autograd.grad, p -= lr * g); check() -> relative max
         difference of the losses of 3 steps from the saved weights against 1.13's (run first).
  infer: forward(x) in eval mode with BatchNorm folded into the Linear/Conv2d before it (as normlab's Predictor and
         ONNX Runtime run it); check() -> relative max difference against 1.13's unfolded eval output on x_ref.

Usage: /usr/bin/python3 tools/peer/djl/make_modules.py OUT_DIR [--infer-models DIR_WITH_mlp_AND_cnn_safetensors]
"""
import argparse
import copy
import json
import os
import struct
import sys
from typing import List, Optional

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "golden"))
from peer_torch import RMSNorm  # noqa: E402


def rel(a, b):
    """max |a - b| / max(max |b|, 1e-12): the check's measure."""
    return (a - b).abs().max() / b.abs().max().clamp_min(1e-12)


class NormW(nn.Module):
    def __init__(self, m, x, dy, refs: List[torch.Tensor]):
        super().__init__()
        self.m = m
        self.params = nn.ParameterList(list(m.parameters()))
        self.register_buffer("x", x)
        self.register_buffer("dy", dy)
        self.refs = nn.ParameterList([nn.Parameter(r, requires_grad=False) for r in refs])

    def forward(self, x):
        return self.m(x)

    @torch.jit.export
    def fwd(self, train: bool) -> torch.Tensor:
        self.m.training = train
        with torch.no_grad():
            return self.m(self.x)

    @torch.jit.export
    def make_graph(self) -> List[torch.Tensor]:
        self.m.training = True
        xr = self.x.clone().requires_grad_(True)
        return [self.m(xr), xr]

    @torch.jit.export
    def bwd(self, y: torch.Tensor, xr: torch.Tensor) -> List[Optional[torch.Tensor]]:
        params: List[torch.Tensor] = [xr]
        for p in self.params:
            params.append(p)
        dys: List[Optional[torch.Tensor]] = [self.dy]
        return torch.autograd.grad([y], params, dys, retain_graph=True)

    @torch.jit.export
    def check(self) -> List[float]:
        refs: List[torch.Tensor] = []
        for r in self.refs:
            refs.append(r)
        yt = self.fwd(True)
        ye = self.fwd(False)
        g = self.make_graph()
        grads = self.bwd(g[0], g[1])
        worst = 0.0
        for i in range(len(grads)):
            gi = grads[i]
            if gi is not None:
                d = float(((gi - refs[2 + i]).abs().max() / refs[2 + i].abs().max().clamp_min(1e-12)).item())
                worst = max(worst, d)
        return [float(((yt - refs[0]).abs().max() / refs[0].abs().max()).item()),
                float(((ye - refs[1]).abs().max() / refs[1].abs().max()).item()), worst]


def norm_refs(m, x, dy):
    """1.13's outputs for the sequence check() runs: forward train, forward eval, one forward + backward in train."""
    m = copy.deepcopy(m)
    with torch.no_grad():
        m.train()
        yt = m(x)
        m.eval()
        ye = m(x)
    m.train()
    xr = x.clone().requires_grad_(True)
    y = m(xr)
    grads = torch.autograd.grad(y, [xr] + list(m.parameters()), dy)
    return [yt, ye] + [g.detach() for g in grads]


class Step(nn.Module):
    def __init__(self, model, x, labels, lr: float):
        super().__init__()
        self.model = model
        self.params = nn.ParameterList(list(model.parameters()))
        self.register_buffer("x", x)
        self.register_buffer("labels", labels)
        self.register_buffer("ref_losses", torch.zeros(3))
        self.lr = lr

    def forward(self, x):
        return self.model(x)

    @torch.jit.export
    def step(self) -> torch.Tensor:
        params: List[torch.Tensor] = []
        for p in self.params:
            params.append(p)
        loss = nn.functional.cross_entropy(self.model(self.x), self.labels)
        grads = torch.autograd.grad([loss], params)
        with torch.no_grad():
            for i in range(len(params)):
                gi = grads[i]
                if gi is not None:
                    params[i].sub_(gi, alpha=self.lr)
        return loss.detach()

    @torch.jit.export
    def losses(self) -> torch.Tensor:
        return torch.stack([self.step(), self.step(), self.step()])

    @torch.jit.export
    def check(self) -> List[float]:
        d = (self.losses() - self.ref_losses).abs().max() / self.ref_losses.abs().max()
        return [float(d.item())]


class Infer(nn.Module):
    def __init__(self, model, x_ref, y_ref):
        super().__init__()
        self.model = model
        self.register_buffer("x_ref", x_ref)
        self.register_buffer("y_ref", y_ref)

    def forward(self, x):
        with torch.no_grad():
            return self.model(x)

    @torch.jit.export
    def check(self) -> List[float]:
        return [float(((self.forward(self.x_ref) - self.y_ref).abs().max() / self.y_ref.abs().max()).item())]


def script_step(model, x, classes, path, seed):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (x.shape[0],), generator=g)
    s = torch.jit.script(Step(model, x, labels, 0.01))
    s.save(path)
    ref = torch.jit.load(path).losses()  # 1.13 running the same scripted step from the same saved weights
    s.ref_losses.copy_(ref)
    s.save(path)


def cnn(norm):
    n1 = nn.BatchNorm2d(32) if norm == "bn" else nn.GroupNorm(8, 32)
    n2 = nn.BatchNorm2d(64) if norm == "bn" else nn.GroupNorm(8, 64)
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), n1, nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), n2, nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 7 * 7, 10))


def mlp(bn):
    layers, d = [], 784
    for _ in range(3):
        layers.append(nn.Linear(d, 100))
        if bn:
            layers.append(nn.BatchNorm1d(100))
        layers.append(nn.Sigmoid())
        d = 100
    layers.append(nn.Linear(100, 10))
    return nn.Sequential(*layers)


class Clf(nn.Module):
    """peer_torch.py's LSTM classifier: (64, 784) as 28 steps of 28 pixels, nn.LSTM(28, 128), last step, Linear."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(28, 128, batch_first=True)
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        return self.fc(self.rnn(x.view(-1, 28, 28))[0][:, -1])


def read_safetensors(path):
    """The tensors of a .safetensors file (u64 header length, JSON header, raw little-endian data), F32 and I64."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        dtype = {"F32": torch.float32, "I64": torch.int64}.get(v["dtype"])
        if dtype is None:
            sys.exit(f"make_modules.py: {path}: tensor {k} is {v['dtype']}, expected F32 or I64")
        a, b = v["data_offsets"]
        out[k] = torch.frombuffer(bytearray(data[a:b]), dtype=dtype).reshape(v["shape"]).clone()
    return out


def load_normlab(stem):
    """A normlab model file (STEM.json + STEM.safetensors) as a PyTorch nn.Sequential in eval mode."""
    spec = json.load(open(stem + ".json"))["model"]
    if spec["type"] != "Sequential":
        sys.exit(f"make_modules.py: {stem}.json: expected a Sequential model, got {spec['type']}")
    layers = []
    for c in spec["children"]:
        t, a = c["type"], c.get("args", {})
        if t == "Linear":
            layers.append(nn.Linear(a["in_features"], a["out_features"], bias=a["bias"]))
        elif t == "Conv2d":
            layers.append(nn.Conv2d(a["in_channels"], a["out_channels"], a["kernel_size"], a["stride"], a["padding"],
                                    a["dilation"], a["groups"], bias=a["bias"]))
        elif t in ("BatchNorm1d", "BatchNorm2d"):
            layers.append(getattr(nn, t)(a["num_features"], eps=a["eps"], momentum=a["momentum"]))
        elif t in ("ReLU", "Sigmoid", "Flatten"):
            layers.append(getattr(nn, t)())
        elif t == "MaxPool2d":
            layers.append(nn.MaxPool2d(a["kernel_size"], a["stride"], a["padding"]))
        else:
            sys.exit(f"make_modules.py: {stem}.json: layer type {t} is not supported here")
    m = nn.Sequential(*layers)
    sd = read_safetensors(stem + ".safetensors")
    missing = m.load_state_dict(sd, strict=False)
    if missing.missing_keys and any(not k.endswith("num_batches_tracked") for k in missing.missing_keys):
        sys.exit(f"make_modules.py: {stem}.safetensors lacks {missing.missing_keys}")
    return m.eval()


def fold(m):
    """BatchNorm folded into the Linear/Conv2d before it, in double: W' = W*g/sqrt(rv+eps), b' = (b-rm)*g/sqrt(rv+eps)+beta."""
    out = []
    for layer in m:
        if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)) and out and isinstance(out[-1], (nn.Linear, nn.Conv2d)):
            prev = out[-1]
            s = layer.weight.double() / torch.sqrt(layer.running_var.double() + layer.eps)
            b = prev.bias.double() if prev.bias is not None else torch.zeros_like(s)
            new = copy.deepcopy(prev)
            if isinstance(prev, nn.Linear):
                new = nn.Linear(prev.in_features, prev.out_features, bias=True)
            else:
                new = nn.Conv2d(prev.in_channels, prev.out_channels, prev.kernel_size, prev.stride, prev.padding,
                                prev.dilation, prev.groups, bias=True)
            shape = [-1] + [1] * (prev.weight.dim() - 1)
            with torch.no_grad():
                new.weight.copy_((prev.weight.double() * s.reshape(shape)).float())
                new.bias.copy_(((b - layer.running_mean.double()) * s + layer.bias.double()).float())
            out[-1] = new
        else:
            out.append(layer)
    return nn.Sequential(*out).eval()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--infer-models", help="directory with mlp.{json,safetensors} and cnn.{json,safetensors} (normlab)")
    ap.add_argument("--only", help="substrings of workload names, comma-separated")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    index = []

    def wanted(name):
        return a.only is None or any(p in name for p in a.only.split(","))

    torch.manual_seed(0)
    norms = [("bn1d", lambda: nn.BatchNorm1d(1024), (256, 1024)),
             ("bn2d", lambda: nn.BatchNorm2d(64), (32, 64, 56, 56)),
             ("bn2d", lambda: nn.BatchNorm2d(64), (64, 64, 56, 56)),
             ("ln", lambda: nn.LayerNorm(768), (8192, 768)),
             ("gn32", lambda: nn.GroupNorm(32, 64), (32, 64, 56, 56)),
             ("in2d", lambda: nn.InstanceNorm2d(64), (32, 64, 56, 56)),
             ("rms", lambda: RMSNorm(768), (8192, 768))]
    for name, make, shape in norms:
        if not wanted(name):
            continue
        g = torch.Generator().manual_seed(7)
        x = torch.randn(*shape, generator=g)
        dy = torch.randn(*shape, generator=g)
        m = make()
        with torch.no_grad():  # non-trivial affine parameters, so their gradients and use are checked too
            for p in m.parameters():
                p.add_(0.1 * torch.randn(p.shape, generator=g))
        refs = norm_refs(m, x, dy)
        file = f"{name}-{'x'.join(map(str, shape))}.pt"
        torch.jit.script(NormW(m, x, dy, refs)).save(os.path.join(a.out, file))
        index.append(f"norm {name} {list(shape)} {file}".replace(" [", " [").replace(", ", ","))
        print("wrote", file, file=sys.stderr)

    trains = [("mlp", lambda: mlp(False), (60, 784), 1), ("mlp_bn", lambda: mlp(True), (60, 784), 1),
              ("cnn_bn", lambda: cnn("bn"), (64, 1, 28, 28), 2), ("cnn_gn", lambda: cnn("gn"), (64, 1, 28, 28), 2),
              ("lstm_clf", Clf, (64, 784), 4)]
    for name, make, shape, seed in trains:
        if not wanted(name):
            continue
        torch.manual_seed(seed)
        file = f"train-{name}.pt"
        script_step(make(), torch.randn(*shape), 10, os.path.join(a.out, file), seed)
        index.append(f"train {name} {list(shape)} {file}".replace(", ", ","))
        print("wrote", file, file=sys.stderr)
    if wanted("vit"):
        from gen_transformer import Vit
        torch.manual_seed(4)
        vit = Vit(28, 1, 7, 64, 6, 4, 128, 10, True, "LayerNorm", False)
        x = torch.randn(64, 1, 28, 28)
        try:
            torch.jit.script(vit)
        except Exception as e:  # noqa: BLE001 - report and trace instead
            print(f"vit: not scriptable in 1.13 ({str(e).splitlines()[0]}); traced in train mode instead", file=sys.stderr)
            vit = torch.jit.trace(vit.train(), x[:2], check_trace=False)
        script_step(vit, x, 10, os.path.join(a.out, "train-vit.pt"), 4)
        index.append("train vit [64,1,28,28] train-vit.pt")
        print("wrote train-vit.pt", file=sys.stderr)

    if a.infer_models:
        for name, in_shape in (("mlp", [784]), ("cnn", [1, 28, 28])):
            if not wanted("infer_" + name):
                continue
            m = load_normlab(os.path.join(a.infer_models, name))
            g = torch.Generator().manual_seed(11)
            x = torch.rand(64, *in_shape, generator=g)
            with torch.no_grad():
                y = m(x)
            file = f"infer-{name}.pt"
            torch.jit.script(Infer(fold(m), x, y)).save(os.path.join(a.out, file))
            index.append(f"infer infer_{name} {[1] + in_shape} {file}".replace(", ", ","))
            print("wrote", file, file=sys.stderr)
    with open(os.path.join(a.out, "index.txt"), "w") as f:
        f.write("\n".join(index) + "\n")


if __name__ == "__main__":
    main()
