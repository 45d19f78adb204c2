#!/usr/bin/python3
"""PyTorch <-> normlab model-file interop (Debian's python3-torch: run with /usr/bin/python3).

normlab saves a model as safetensors with PyTorch's state-dict keys plus a JSON description beside it
(model.safetensors + model.json; see normlab.io.ModelFiles and normlab.io.LayerTypes). Each JSON node is
{"type": <torch.nn class name>, "args": {<constructor kwargs>}, "children": [...]}, so torch.nn.<type>(**args)
rebuilds the layer; "Residual" (y = body(x) + x) and "GlobalAvgPool" are normlab's and defined here.

    /usr/bin/python3 tools/interop/torch_interop.py load MODEL    # build the nn.Module, load the weights strictly
    /usr/bin/python3 tools/interop/torch_interop.py check MODEL   # compare normlab's and PyTorch's outputs
    /usr/bin/python3 tools/interop/torch_interop.py generate      # PyTorch -> normlab fixtures (interop/torch/)
    /usr/bin/python3 tools/interop/torch_interop.py check DIR     # every NAME.json of DIR with its NAME_io.safetensors

MODEL is a weights file (runs/mnist/bn.safetensors) or its description (bn.json). From Python:
    import sys; sys.path.insert(0, "tools/interop"); import torch_interop
    model = torch_interop.load("runs/mnist/bn.safetensors")   # an nn.Module in eval mode

check MODEL generates its own inputs (seeded; shape from the first layer, or --input-shape N,C,H,W), runs them
through PyTorch and through normlab (the class normlab.io.Predict in normlab-lab/target/normlab.jar, built by
./normlab when missing; NORMLAB_JAR overrides the path), and compares. --io NAME_io.safetensors uses recorded
inputs and outputs instead.

generate trains a small BN MLP and a small BN CNN on synthetic data, then writes for each NAME:
NAME.safetensors (state dict), NAME.json (description), NAME_io.safetensors (inputs, outputs in eval mode).
check reads every NAME.json in the directory, loads NAME.safetensors into the PyTorch equivalent (strict), runs
NAME_io's inputs in eval mode and compares with the outputs normlab recorded: max|torch - normlab| / max|normlab|
<= 1e-5. Exit status 0 when all agree.
"""
import json
import os
import struct
import sys

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
RES = os.path.normpath(os.path.join(HERE, "..", "..", "normlab-core", "src", "test", "resources", "interop"))
TOL = 1e-5

_TO_DT = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.int32: "I32"}
_FROM_DT = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32}


def save_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor} as safetensors (keys sorted, data 8-byte aligned) without the safetensors package."""
    header = {"__metadata__": {k: str(v) for k, v in sorted((metadata or {"format": "pt"}).items())}}
    blobs, offset = [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _TO_DT[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    js = json.dumps(header, separators=(",", ":")).encode("utf-8")
    js += b" " * ((8 - len(js) % 8) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)) + js + b"".join(blobs))


def load_safetensors(path):
    """Reads a safetensors file into {name: torch tensor}, checking that every tensor lies inside the file."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise ValueError(f"{path}: header length {n} exceeds the file")
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        dt = np.dtype(_FROM_DT[info["dtype"]]).newbyteorder("<")
        if not 0 <= b <= e <= len(body) or (e - b) != dt.itemsize * int(np.prod(info["shape"], dtype=np.int64)):
            raise ValueError(f"{path}: tensor {name} has bad data_offsets {info['data_offsets']}")
        arr = np.frombuffer(body[b:e], dtype=dt).reshape(info["shape"]).astype(dt.newbyteorder("="))
        out[name] = torch.from_numpy(arr.copy())
    return out


class Residual(nn.Module):
    """normlab.nn.Residual: y = body(x) + x."""

    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x):
        return self.body(x) + x


class BasicBlock(nn.Module):
    """normlab.nn.BasicBlock (He et al. 2015): relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)),
    shortcut = downsample(x) or x."""

    def __init__(self, conv1, bn1, conv2, bn2, downsample=None):
        super().__init__()
        self.conv1, self.bn1, self.conv2, self.bn2 = conv1, bn1, conv2, bn2
        self.downsample = downsample

    def forward(self, x):
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(out + (x if self.downsample is None else self.downsample(x)))


class PreActBlock(nn.Module):
    """normlab.nn.PreActBlock (He et al. 2016): a = relu(bn1(x)); conv2(relu(bn2(conv1(a)))) + (downsample(a) or x)."""

    def __init__(self, bn1, conv1, bn2, conv2, downsample=None):
        super().__init__()
        self.bn1, self.conv1, self.bn2, self.conv2 = bn1, conv1, bn2, conv2
        self.downsample = downsample

    def forward(self, x):
        a = torch.relu(self.bn1(x))
        out = self.conv2(torch.relu(self.bn2(self.conv1(a))))
        return out + (x if self.downsample is None else self.downsample(a))


class GlobalAvgPool(nn.Module):
    """normlab.nn.GlobalAvgPool: (N, C, H, W) -> (N, C)."""

    def forward(self, x):
        return x.mean(dim=(2, 3))


class LSTM(nn.LSTM):
    """nn.LSTM returning only its output (all hidden states), so it fits nn.Sequential; same state-dict keys."""

    def forward(self, x):
        return super().forward(x)[0]


class GRU(nn.GRU):
    """nn.GRU returning only its output, as LSTM above."""

    def forward(self, x):
        return super().forward(x)[0]


class LastStep(nn.Module):
    """normlab.rnn.LastStep: (N, T, H) -> (N, H), the last time step."""

    def forward(self, x):
        return x[:, -1]


def build(node):
    """The torch module a normlab description node names."""
    t, args = node["type"], dict(node.get("args", {}))
    children = [build(c) for c in node.get("children", [])]
    if t == "Sequential":
        return nn.Sequential(*children)
    if t == "Residual":
        return Residual(children[0])
    if t == "GlobalAvgPool":
        return GlobalAvgPool()
    if t in ("BasicBlock", "PreActBlock"):
        return (BasicBlock if t == "BasicBlock" else PreActBlock)(*children)
    if t in ("LSTM", "GRU"):
        return (LSTM if t == "LSTM" else GRU)(**args)
    if t == "LastStep":
        return LastStep()
    if t == "Unflatten":
        return nn.Unflatten(args["dim"], tuple(args["unflattened_size"]))
    if args.get("layout", "NCHW") != "NCHW":
        raise ValueError(f"{t}: layout {args['layout']} has no PyTorch constructor form")
    args.pop("layout", None)
    if t in ("Conv2d", "MaxPool2d", "AvgPool2d"):
        args = {k: tuple(v) if isinstance(v, list) else v for k, v in args.items()}
    if t == "LayerNorm" and not args.pop("bias", True):
        raise ValueError("LayerNorm(bias=False) needs PyTorch >= 2.1")
    if t == "TransformerEncoderLayer":
        norm = args.pop("norm", "LayerNorm")
        if norm != "LayerNorm":
            raise ValueError(f"TransformerEncoderLayer with {norm}: torch.nn's layer has LayerNorm only")
    if not hasattr(nn, t):
        raise ValueError(f"layer type {t} has no PyTorch equivalent here")
    return getattr(nn, t)(**args)


def describe(m):
    """The normlab description node of a torch module (the inverse of build for the layers used here)."""
    def pair(v):
        return list(v) if isinstance(v, (tuple, list)) else [v, v]
    if isinstance(m, nn.Sequential):
        return {"type": "Sequential", "args": {}, "children": [describe(c) for c in m]}
    if isinstance(m, Residual):
        return {"type": "Residual", "args": {}, "children": [describe(m.body)]}
    if isinstance(m, nn.Linear):
        a = {"in_features": m.in_features, "out_features": m.out_features, "bias": m.bias is not None}
    elif isinstance(m, nn.Conv2d):
        a = {"in_channels": m.in_channels, "out_channels": m.out_channels, "kernel_size": pair(m.kernel_size),
             "stride": pair(m.stride), "padding": pair(m.padding), "dilation": pair(m.dilation), "groups": m.groups,
             "bias": m.bias is not None}
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        a = {"num_features": m.num_features, "eps": m.eps, "momentum": m.momentum, "affine": m.affine,
             "track_running_stats": m.track_running_stats}
    elif isinstance(m, nn.MaxPool2d):
        a = {"kernel_size": pair(m.kernel_size), "stride": pair(m.stride), "padding": pair(m.padding)}
    elif isinstance(m, (nn.ReLU, nn.Sigmoid, nn.Tanh, nn.Flatten, nn.Identity)):
        a = {}
    else:
        raise ValueError(f"no normlab description for {type(m).__name__}")
    return {"type": type(m).__name__, "args": a}


def write_model(out_dir, name, model, inputs):
    model.eval()
    with torch.no_grad():
        outputs = model(inputs)
    desc = {"format": "normlab-model", "version": 1, "model": describe(model)}
    with open(os.path.join(out_dir, name + ".json"), "w") as f:
        json.dump(desc, f, indent=2)
        f.write("\n")
    save_safetensors(os.path.join(out_dir, name + ".safetensors"), model.state_dict())
    save_safetensors(os.path.join(out_dir, name + "_io.safetensors"), {"inputs": inputs, "outputs": outputs},
                     {"producer": f"torch {torch.__version__}"})


def train(model, x, y, steps, lr):
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    model.train()
    for i in range(steps):
        idx = torch.arange(i * 32, i * 32 + 32) % x.shape[0]
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()


def generate(out_dir):
    torch.manual_seed(0)
    os.makedirs(out_dir, exist_ok=True)
    # MLP: BN with and without affine, a Linear without bias, momentum=None (cumulative average).
    mlp = nn.Sequential(nn.Linear(20, 32), nn.BatchNorm1d(32), nn.ReLU(),
                        nn.Linear(32, 16, bias=False), nn.BatchNorm1d(16, affine=False, momentum=None), nn.Tanh(),
                        nn.Linear(16, 5))
    x = torch.randn(512, 20) * 2 + 1
    y = (x[:, :5].argmax(dim=1))
    train(mlp, x, y, 60, 0.05)
    write_model(out_dir, "mlp", mlp, torch.randn(8, 20) * 2 + 1)
    # CNN: Conv2d (with and without bias, stride, padding), BatchNorm2d, MaxPool2d, Flatten, Linear.
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8, eps=1e-3), nn.ReLU(),
                        nn.Flatten(), nn.Linear(8 * 4 * 4, 3))
    xi = torch.randn(256, 1, 16, 16)
    yi = (xi[:, 0, :8].mean(dim=(1, 2)) > xi[:, 0, 8:].mean(dim=(1, 2))).long() + (xi.mean(dim=(1, 2, 3)) > 0).long()
    train(cnn, xi, yi, 40, 0.05)
    write_model(out_dir, "cnn", cnn, torch.randn(6, 1, 16, 16))
    print(f"PyTorch fixtures written to {out_dir}")


def check(dir_):
    names = sorted(f[:-5] for f in os.listdir(dir_) if f.endswith(".json"))
    if not names:
        print(f"no model descriptions in {dir_}")
        return 1
    failed = 0
    for name in names:
        with open(os.path.join(dir_, name + ".json")) as f:
            desc = json.load(f)
        model = build(desc["model"])
        state = load_safetensors(os.path.join(dir_, name + ".safetensors"))
        model.load_state_dict(state, strict=True)
        model.eval()
        io = load_safetensors(os.path.join(dir_, name + "_io.safetensors"))
        with torch.no_grad():
            got = model(io["inputs"])
        ref = io["outputs"]
        err = ((got - ref).abs().max() / ref.abs().max()).item()
        ok = got.shape == ref.shape and err <= TOL
        failed += not ok
        print(f"{name}: {'ok' if ok else 'MISMATCH'}  max|torch - normlab| / max|normlab| = {err:.2e}  (tolerance {TOL:g})")
    return 1 if failed else 0


def _paths(model_path):
    """(weights, description) of a MODEL argument: x.safetensors or x.json."""
    stem = model_path[:-len(".safetensors")] if model_path.endswith(".safetensors") else \
        model_path[:-len(".json")] if model_path.endswith(".json") else model_path
    return stem + ".safetensors", stem + ".json"


def load(model_path):
    """The PyTorch nn.Module described by MODEL's .json, with its weights loaded strictly, in eval mode."""
    weights, description = _paths(model_path)
    with open(description) as f:
        desc = json.load(f)
    if desc.get("format") != "normlab-model":
        raise ValueError(f"{description}: not a normlab model description (format {desc.get('format')!r})")
    model = build(desc["model"])
    model.load_state_dict(load_safetensors(weights), strict=True)
    return model.eval()


def _first_leaf(node):
    while node.get("children"):
        node = node["children"][0]
    return node


def _inputs(desc_model, model, shape):
    """Seeded inputs for the model: the given shape, or one the first layer implies (trying common image sizes)."""
    g = torch.Generator().manual_seed(0)
    if shape:
        return torch.randn(*shape, generator=g)
    leaf = _first_leaf(desc_model)
    args = leaf.get("args", {})
    if leaf["type"] == "Linear":
        return torch.randn(8, args["in_features"], generator=g)
    channels = args.get("in_channels", args.get("num_features"))
    if channels is None:
        raise ValueError(f"cannot infer an input shape from a first layer {leaf['type']}: give --input-shape")
    for size in (28, 32, 16, 64, 8, 224):
        x = torch.randn(4, channels, size, size, generator=g)
        try:
            with torch.no_grad():
                model(x)
            return x
        except RuntimeError:
            continue
    raise ValueError("no common image size fits the model: give --input-shape N,C,H,W")


def _normlab_outputs(weights, inputs):
    """normlab's outputs for the inputs, from the class normlab.io.Predict of the runnable jar."""
    import subprocess
    import tempfile
    root = os.path.normpath(os.path.join(HERE, "..", ".."))
    jar = os.environ.get("NORMLAB_JAR", os.path.join(root, "normlab-lab", "target", "normlab.jar"))
    if "NORMLAB_JAR" not in os.environ:
        subprocess.run([os.path.join(root, "normlab"), "--version"], check=True, stdout=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory() as tmp:
        xin, yout = os.path.join(tmp, "in.safetensors"), os.path.join(tmp, "out.safetensors")
        save_safetensors(xin, {"inputs": inputs})
        r = subprocess.run(["java", "--add-modules", "jdk.incubator.vector", "-cp", jar, "normlab.io.Predict",
                            weights, xin, yout], stderr=subprocess.PIPE, text=True)
        if r.returncode != 0:
            raise RuntimeError("normlab.io.Predict failed: " + r.stderr.strip().splitlines()[-1])
        return load_safetensors(yout)["outputs"]


def check_model(model_path, shape=None, io_path=None):
    weights, description = _paths(model_path)
    model = load(model_path)
    if io_path:
        io = load_safetensors(io_path)
        inputs, ref = io["inputs"], io["outputs"]
    else:
        with open(description) as f:
            desc = json.load(f)
        inputs = _inputs(desc["model"], model, shape)
        ref = _normlab_outputs(weights, inputs)
    with torch.no_grad():
        got = model(inputs)
    err = ((got - ref).abs().max() / ref.abs().max()).item() if got.shape == ref.shape else float("inf")
    ok = err <= TOL
    print(f"{os.path.basename(weights)}: {'ok' if ok else 'MISMATCH'}  inputs {tuple(inputs.shape)}  "
          f"max|torch - normlab| / max|normlab| = {err:.2e}  (tolerance {TOL:g})")
    return 0 if ok else 1


def main(argv):
    torch.set_num_threads(1)
    mode = argv[1] if len(argv) > 1 else ""
    if mode == "generate":
        generate(argv[2] if len(argv) > 2 else os.path.join(RES, "torch"))
        return 0
    if mode == "load" and len(argv) == 3:
        model = load(argv[2])
        n = sum(t.numel() for t in model.state_dict().values())
        print(f"{argv[2]}: loaded strictly into PyTorch ({len(model.state_dict())} tensors, {n} values)")
        print(model)
        return 0
    if mode == "check":
        rest = argv[2:]
        opts = {}
        while len(rest) >= 2 and rest[-2] in ("--input-shape", "--io"):
            opts[rest[-2]] = rest[-1]
            rest = rest[:-2]
        target = rest[0] if rest else os.path.join(RES, "normlab")
        if os.path.isdir(target):
            return check(target)
        shape = [int(v) for v in opts["--input-shape"].split(",")] if "--input-shape" in opts else None
        return check_model(target, shape, opts.get("--io"))
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
