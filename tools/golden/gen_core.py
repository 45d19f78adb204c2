"""Golden fixtures for normlab-core's engine: BatchNorm1d/2d, Linear, activations, cross-entropy, SGD and Adam.

Writes golden/core/*.safetensors (float32 unless noted; labels and num_batches_tracked as int64). Every fixture seeds
torch.manual_seed with its own number, so fixtures are independent of each other and of the order they are written in.

BatchNorm fixtures (bn1d_*, bn2d_*): metadata describes the layer (num_features, eps, momentum or "none", affine,
track_running_stats). Keys: weight/bias (initial γ, β when affine); for steps k = 0, 1, 2 in training mode
  step{k}.x, step{k}.dy            input and upstream gradient
  step{k}.y, step{k}.dx            output and dL/dx
  step{k}.dweight, step{k}.dbias   parameter gradients of this step alone (zeroed before each step)
  step{k}.running_mean, step{k}.running_var, step{k}.num_batches_tracked   buffers after the step (when tracked)
then the same x/dy/y/dx/dweight/dbias under "eval." for one forward+backward in evaluation mode. Every recorded result
is also stored as computed by the same layer in float64 from the same float32 inputs, under step{k}.f64.* / eval.f64.*
(float64 tensors): the exact answer, against which float32 PyTorch's own rounding can be measured.
"""
import copy
import os

import torch

from generate import save


def _bn(out, name, seed, dims, shape, momentum=0.1, affine=True, track=True, eps=1e-5, offsets=None, scale=1.0):
    torch.manual_seed(seed)
    c = shape[1]
    cls = {1: torch.nn.BatchNorm1d, 2: torch.nn.BatchNorm2d}[dims]
    bn = cls(c, eps=eps, momentum=momentum, affine=affine, track_running_stats=track)
    t = {}
    if affine:
        with torch.no_grad():
            bn.weight.copy_(torch.rand(c) + 0.5)
            bn.bias.copy_(torch.randn(c))
        t["weight"] = bn.weight.detach().clone()
        t["bias"] = bn.bias.detach().clone()

    def make_x():
        x = torch.randn(*shape) * scale
        if offsets is not None:
            view = [1, c] + [1] * (len(shape) - 2)
            x = x + torch.tensor(offsets, dtype=torch.float32).view(view)
        return x

    def record(mod, prefix, x, dy):
        x = x.clone().requires_grad_(True)
        if affine:
            mod.zero_grad(set_to_none=False)
        y = mod(x)
        y.backward(dy)
        t[prefix + "x"] = x.detach().clone()
        t[prefix + "dy"] = dy.clone()
        t[prefix + "y"] = y.detach().clone()
        t[prefix + "dx"] = x.grad.detach().clone()
        if affine:
            t[prefix + "dweight"] = mod.weight.grad.detach().clone()
            t[prefix + "dbias"] = mod.bias.grad.detach().clone()
        if track:
            t[prefix + "running_mean"] = mod.running_mean.detach().clone()
            t[prefix + "running_var"] = mod.running_var.detach().clone()
            t[prefix + "num_batches_tracked"] = mod.num_batches_tracked.detach().clone()

    def run(prefix):
        x = make_x()
        dy = torch.randn(*shape)
        record(bn, prefix, x, dy)
        # The same step in float64 (the exact answer to about 1e-15), for what float32 PyTorch itself gets wrong.
        record(bn64, prefix + "f64.", x.double(), dy.double())
        del t[prefix + "f64.x"], t[prefix + "f64.dy"]

    bn64 = copy.deepcopy(bn).double()
    bn.train()
    bn64.train()
    for k in range(3):
        run(f"step{k}.")
    bn.eval()
    bn64.eval()
    run("eval.")
    meta = {"dims": dims, "num_features": c, "eps": repr(eps), "momentum": "none" if momentum is None else repr(momentum),
            "affine": str(affine).lower(), "track_running_stats": str(track).lower(), "shape": list(shape)}
    save(os.path.join(out, name + ".safetensors"), t, meta)


def _batchnorm(out):
    # BatchNorm1d: (N, C) and (N, C, L); N = 2; momentum 0.1 / None; affine on/off; tracking on/off; large offset.
    _bn(out, "bn1d_nc", 101, 1, (8, 4))
    _bn(out, "bn1d_nc_n2_cma", 102, 1, (2, 3), momentum=None)
    _bn(out, "bn1d_ncl_noaffine", 103, 1, (6, 3, 5), affine=False)
    _bn(out, "bn1d_ncl_n2_cma_noaffine", 104, 1, (2, 4, 3), momentum=None, affine=False)
    _bn(out, "bn1d_nc_notrack", 105, 1, (5, 3), track=False)
    _bn(out, "bn1d_ncl_notrack_noaffine", 106, 1, (4, 2, 6), affine=False, track=False)
    _bn(out, "bn1d_nc_offset", 107, 1, (16, 3), offsets=[0.0, 1000.0, -50.0], scale=0.5)
    # BatchNorm2d: (N, C, H, W); N = 2; the 1x1 spatial case.
    _bn(out, "bn2d", 201, 2, (4, 3, 5, 6))
    _bn(out, "bn2d_n2_cma", 202, 2, (2, 3, 2, 2), momentum=None)
    _bn(out, "bn2d_1x1", 203, 2, (4, 3, 1, 1))
    _bn(out, "bn2d_1x1_n2_noaffine", 204, 2, (2, 3, 1, 1), affine=False)
    _bn(out, "bn2d_noaffine_cma", 205, 2, (3, 2, 4, 4), momentum=None, affine=False)
    _bn(out, "bn2d_notrack", 206, 2, (3, 4, 3, 3), track=False)
    _bn(out, "bn2d_notrack_noaffine", 207, 2, (2, 2, 3, 2), affine=False, track=False)


def _layers(out):
    # Linear with and without bias: x (5, 4) -> (5, 3).
    for seed, bias in ((301, True), (302, False)):
        torch.manual_seed(seed)
        lin = torch.nn.Linear(4, 3, bias=bias)
        x = torch.randn(5, 4, requires_grad=True)
        dy = torch.randn(5, 3)
        y = lin(x)
        y.backward(dy)
        t = {"weight": lin.weight.detach().clone(), "x": x.detach(), "dy": dy, "y": y.detach(), "dx": x.grad,
             "dweight": lin.weight.grad}
        if bias:
            t["bias"] = lin.bias.detach().clone()
            t["dbias"] = lin.bias.grad
        save(os.path.join(out, "linear_bias.safetensors" if bias else "linear_nobias.safetensors"), t,
             {"in": 4, "out": 3, "bias": str(bias).lower()})
    # Activations over a range that includes saturation and exact zeros (ReLU's derivative at 0 is 0).
    for seed, name, fn in ((311, "sigmoid", torch.sigmoid), (312, "tanh", torch.tanh), (313, "relu", torch.relu)):
        torch.manual_seed(seed)
        x = torch.randn(4, 6) * 3
        x[0, 0] = 0.0
        x[1, 1] = 20.0
        x[2, 2] = -20.0
        x.requires_grad_(True)
        dy = torch.randn(4, 6)
        y = fn(x)
        y.backward(dy)
        save(os.path.join(out, name + ".safetensors"), {"x": x.detach(), "dy": dy, "y": y.detach(), "dx": x.grad})
    # Cross-entropy (mean over the batch): ordinary logits, and huge ones (1e4) where a naive softmax overflows.
    for seed, name, scale in ((321, "ce", 1.0), (322, "ce_huge", 1e4)):
        torch.manual_seed(seed)
        z = torch.randn(6, 5) * scale
        if scale > 1:
            z[0] = torch.tensor([1e4, -1e4, 0.0, 1e4, 5e3])
            z[1] = torch.tensor([-1e4, -1e4, -1e4, -1e4, -1e4])
        z.requires_grad_(True)
        labels = torch.randint(0, 5, (6,))
        loss = torch.nn.functional.cross_entropy(z, labels)
        loss.backward()
        save(os.path.join(out, name + ".safetensors"),
             {"logits": z.detach(), "labels": labels, "loss": loss.detach().reshape(1), "dlogits": z.grad})


def _net():
    return torch.nn.Sequential(torch.nn.Linear(6, 5, bias=False), torch.nn.BatchNorm1d(5), torch.nn.Sigmoid(),
                               torch.nn.Linear(5, 3))


def _groups(model, weight_decay, exempt):
    """Param groups: with exempt, biases and normalization parameters get no weight decay (normlab's switch)."""
    if not exempt:
        return [{"params": list(model.parameters()), "weight_decay": weight_decay}]
    decay = [model[0].weight, model[3].weight]
    free = [model[1].weight, model[1].bias, model[3].bias]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": free, "weight_decay": 0.0}]


def _train(out):
    """3-step training runs of Linear(no bias) -> BatchNorm1d -> Sigmoid -> Linear with cross-entropy, batch 8."""
    runs = [
        # name, seed, optimizer, lr, momentum, nesterov, weight decay, exempt
        ("train_sgd", 401, "sgd", 0.5, 0.0, False, 0.0, False),
        ("train_sgd_momentum_wd", 402, "sgd", 0.3, 0.9, False, 0.01, False),
        ("train_sgd_nesterov_wd_exempt", 403, "sgd", 0.3, 0.9, True, 0.05, True),
        ("train_adam", 404, "adam", 0.01, 0.0, False, 0.0, False),
        ("train_adamw_exempt", 405, "adamw", 0.01, 0.0, False, 0.1, True),
    ]
    for name, seed, opt, lr, mom, nest, wd, exempt in runs:
        torch.manual_seed(seed)
        model = _net()
        t = {"init." + k: v.detach().clone() for k, v in model.state_dict().items()}
        groups = _groups(model, wd, exempt)
        if opt == "sgd":
            o = torch.optim.SGD(groups, lr=lr, momentum=mom, nesterov=nest)
        elif opt == "adam":
            o = torch.optim.Adam(groups, lr=lr)
        else:
            o = torch.optim.AdamW(groups, lr=lr)
        model.train()
        for k in range(3):
            x = torch.randn(8, 6)
            labels = torch.randint(0, 3, (8,))
            o.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(x), labels)
            loss.backward()
            o.step()
            t[f"step{k}.x"] = x
            t[f"step{k}.labels"] = labels
            t[f"step{k}.loss"] = loss.detach().reshape(1)
            for key, v in model.state_dict().items():
                t[f"step{k}.{key}"] = v.detach().clone()
        save(os.path.join(out, name + ".safetensors"), t,
             {"optimizer": opt, "lr": repr(lr), "momentum": repr(mom), "nesterov": str(nest).lower(),
              "weight_decay": repr(wd), "exempt": str(exempt).lower()})


def _optim(out):
    """Optimizers alone, fed given gradients: a weight (3, 4), a bias (3) and a norm parameter (3), 4 steps."""
    cases = [
        # name, seed, optimizer, kwargs, exempt
        ("optim_sgd_momentum_wd", 501, "sgd", dict(lr=0.1, momentum=0.9, weight_decay=0.01), False),
        ("optim_sgd_nesterov_wd_exempt", 502, "sgd", dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.1), True),
        ("optim_adam", 503, "adam", dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8), False),
        ("optim_adam_l2_amsgrad", 504, "adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=True), False),
        ("optim_adamw_exempt", 505, "adamw", dict(lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.2), True),
        ("optim_adamw_amsgrad", 506, "adamw", dict(lr=0.05, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.01, amsgrad=True), False),
    ]
    for name, seed, opt, kw, exempt in cases:
        torch.manual_seed(seed)
        w = torch.randn(3, 4, requires_grad=True)
        b = torch.randn(3, requires_grad=True)
        g = torch.randn(3, requires_grad=True)
        t = {"init.w": w.detach().clone(), "init.b": b.detach().clone(), "init.g": g.detach().clone()}
        wd = kw.pop("weight_decay", 0.0)
        groups = ([{"params": [w], "weight_decay": wd}, {"params": [b, g], "weight_decay": 0.0}] if exempt
                  else [{"params": [w, b, g], "weight_decay": wd}])
        cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[opt]
        o = cls(groups, **kw)
        for k in range(4):
            for p, key in ((w, "w"), (b, "b"), (g, "g")):
                p.grad = torch.randn(p.shape)
                t[f"step{k}.grad.{key}"] = p.grad.clone()
            o.step()
            for p, key in ((w, "w"), (b, "b"), (g, "g")):
                t[f"step{k}.{key}"] = p.detach().clone()
        meta = {k: repr(v) for k, v in kw.items()}
        meta.update({"optimizer": opt, "weight_decay": repr(wd), "exempt": str(exempt).lower()})
        save(os.path.join(out, name + ".safetensors"), t, meta)


def generate(out_dir):
    out = os.path.join(out_dir, "core")
    os.makedirs(out, exist_ok=True)
    _batchnorm(out)
    _layers(out)
    _train(out)
    _optim(out)
