"""Golden group 'edge': BatchNorm on numerically hostile inputs, with float64 references.

Each case is one file golden/edge/bn_<case>_<layout>.safetensors holding a float32 input x, γ (weight), β (bias), dy,
and the float64 references computed from that same float32 input:
  y, dx, dweight, dbias      training-mode forward/backward (batch statistics)
  running_mean, running_var  after that one training step from the defaults (0, 1) with momentum 0.1
  rm_eval, rv_eval, y_eval   an evaluation-mode forward with the given float32 running statistics

The references use an explicit two-pass float64 formula (mean, then the mean of squared deviations), checked against
torch.nn.functional.batch_norm in float64, so they do not inherit any single-pass cancellation.

Cases (PyTorch issue #5410 is the motivating failure: E[x²]−E[x]² in float32 loses everything for large means):
  offset     channel means 1e4..1e7 with std down to 1e-6 of the mean
  constant   zero-variance channels, including a constant 1e7
  tinyvar    variances 1e-7..1e-4 around eps = 1e-5
  subnormal  subnormal float32 inputs, alone and mixed with normal values
Layouts: 'nc' is (N, C) (the channels-last kernel path), 'nchw' is (N, C, H, W) (the planar path).

The same four cases for LayerNorm and GroupNorm, where each statistic is per sample (per row, per (sample, group)):
golden/edge/ln_<case>.safetensors, x (K, 32) normalized over the last dimension, and gn_<case>.safetensors,
x (K, 4, 4, 2) with 2 groups; each row or group draws its values from one of the case's value sets. Keys: x, weight,
bias, dy, y, dx, dweight, dbias.
"""
import os

import torch
import torch.nn.functional as F

from generate import save

EPS = 1e-5
MOMENTUM = 0.1
SUBNORMAL = 1.401298464324817e-45  # smallest positive float32


def _channels(case, g, m):
    """A list of C float32 tensors of m values each (one per channel)."""
    chans = []
    if case == "offset":
        # (mean, std): mean/std from 1e4 to 1e6, both signs.
        for mean, std in [(1e4, 1e-2), (1e5, 1e-1), (1e6, 1.0), (1e7, 10.0),
                          (-1e4, 1.0), (-1e5, 10.0), (1e6, 100.0), (-1e7, 1e3)]:
            chans.append((mean + std * torch.randn(m, generator=g, dtype=torch.float64)).float())
    elif case == "constant":
        for v in [0.0, 1.5, -3e5, 1e7]:
            chans.append(torch.full((m,), v, dtype=torch.float32))
    elif case == "tinyvar":
        for mean, var in [(0.0, 1e-7), (1.0, 1e-6), (100.0, 1e-5), (-5.0, 1e-4)]:
            chans.append((mean + var ** 0.5 * torch.randn(m, generator=g, dtype=torch.float64)).float())
    elif case == "subnormal":
        # All subnormal; subnormal around the smallest normal; a few subnormals among normal values; zeros and one ulp.
        ints = torch.randint(-1000, 1001, (m,), generator=g).double()
        chans.append((ints * SUBNORMAL).float())
        chans.append((torch.rand(m, generator=g, dtype=torch.float64) * 2.2e-38).float())
        mixed = torch.randn(m, generator=g, dtype=torch.float64)
        mixed[::3] = ints[::3] * SUBNORMAL
        chans.append(mixed.float())
        zero = torch.zeros(m, dtype=torch.float64)
        zero[m // 2] = SUBNORMAL
        chans.append(zero.float())
    else:
        raise ValueError(case)
    return chans


def _reference(x, w, b, dy, dims):
    """Two-pass float64 batch norm forward and its autograd backward."""
    xd = x.double().requires_grad_(True)
    wd = w.double().requires_grad_(True)
    bd = b.double().requires_grad_(True)
    shape = [1, x.shape[1]] + [1] * (x.dim() - 2)
    mean = xd.mean(dim=dims, keepdim=True)
    var = ((xd - mean) ** 2).mean(dim=dims, keepdim=True)
    y = (xd - mean) / torch.sqrt(var + EPS) * wd.view(shape) + bd.view(shape)
    y.backward(dy.double())
    # Cross-check with PyTorch's own kernel in float64.
    y2 = F.batch_norm(x.double(), None, None, w.double(), b.double(), training=True, eps=EPS)
    # PyTorch's float64 kernel is itself off by up to ~1e-7 on these inputs (recorded in the metadata); the two-pass
    # formula is the reference, and the two must agree far inside the float32 tolerance the tests use.
    err = (y - y2).abs().max().item() / max(1.0, y.abs().max().item())
    assert err <= 1e-6, f"two-pass reference disagrees with F.batch_norm by {err}"
    m = x.numel() // x.shape[1]
    rm = MOMENTUM * mean.detach().flatten()
    rv = (1 - MOMENTUM) + MOMENTUM * var.detach().flatten() * m / (m - 1)
    return y.detach(), xd.grad, wd.grad, bd.grad, rm, rv, mean.detach().flatten(), var.detach().flatten(), err


def generate(out_dir):
    d = os.path.join(out_dir, "edge")
    os.makedirs(d, exist_ok=True)
    for ci, case in enumerate(["offset", "constant", "tinyvar", "subnormal"]):
        for layout, (n, hw) in [("nc", (96, None)), ("nchw", (6, (4, 4)))]:
            g = torch.Generator().manual_seed(1000 + 10 * ci + (layout == "nchw"))
            m = n * (hw[0] * hw[1] if hw else 1)
            chans = _channels(case, g, m)
            c = len(chans)
            if hw is None:
                x = torch.stack(chans, dim=1)  # (N, C)
                dims = [0]
            else:
                x = torch.stack([ch.view(n, *hw) for ch in chans], dim=1)  # (N, C, H, W)
                dims = [0, 2, 3]
            x = x.contiguous()
            w = (0.5 + torch.rand(c, generator=g)).float()
            b = torch.randn(c, generator=g).float()
            dy = torch.randn(x.shape, generator=g).float()
            y, dx, dw, db, rm, rv, mean, var, torch_err = _reference(x, w, b, dy, dims)
            # Evaluation: running statistics are the float32 batch statistics (what training would converge to).
            rm_eval = mean.float()
            rv_eval = var.float()
            y_eval = F.batch_norm(x.double(), rm_eval.double(), rv_eval.double(), w.double(), b.double(),
                                  training=False, eps=EPS)
            save(os.path.join(d, f"bn_{case}_{layout}.safetensors"), {
                "x": x, "weight": w, "bias": b, "dy": dy,
                "y": y, "dx": dx, "dweight": dw, "dbias": db,
                "running_mean": rm, "running_var": rv,
                "rm_eval": rm_eval, "rv_eval": rv_eval, "y_eval": y_eval,
            }, {"eps": EPS, "momentum": MOMENTUM, "case": case, "layout": layout,
               "torch_f64_rel_err": f"{torch_err:.3e}"})
    generate_per_sample(d)


def _per_sample_reference(x, w, b, dy, groups):
    """Two-pass float64 LayerNorm (groups=None: over the last dim) or GroupNorm forward, and its autograd backward."""
    xd = x.double().requires_grad_(True)
    wd = w.double().requires_grad_(True)
    bd = b.double().requires_grad_(True)
    if groups is None:
        mean = xd.mean(dim=-1, keepdim=True)
        var = ((xd - mean) ** 2).mean(dim=-1, keepdim=True)
        y = (xd - mean) / torch.sqrt(var + EPS) * wd + bd
    else:
        n, c = x.shape[0], x.shape[1]
        xg = xd.reshape(n, groups, -1)
        mean = xg.mean(dim=-1, keepdim=True)
        var = ((xg - mean) ** 2).mean(dim=-1, keepdim=True)
        shape = [1, c] + [1] * (x.dim() - 2)
        y = ((xg - mean) / torch.sqrt(var + EPS)).reshape(x.shape) * wd.view(shape) + bd.view(shape)
    y.backward(dy.double())
    return y.detach(), xd.grad, wd.grad, bd.grad


def generate_per_sample(d):
    for ci, case in enumerate(["offset", "constant", "tinyvar", "subnormal"]):
        for kind in ["ln", "gn"]:
            g = torch.Generator().manual_seed(2000 + 10 * ci + (kind == "gn"))
            if kind == "ln":
                sets = _channels(case, g, 32)
                x = torch.stack(sets, dim=0)  # (K, 32): one set per row
                w = (0.5 + torch.rand(32, generator=g)).float()
                b = torch.randn(32, generator=g).float()
                groups = None
            else:
                sets = _channels(case, g, 16) + _channels(case, g, 16)
                k = len(sets) // 2
                # sample i, group 0 = set i, group 1 = set k + i; each group is 2 channels × 4 × 2 = 16 values
                x = torch.stack([torch.cat([sets[i], sets[k + i]]).view(4, 4, 2) for i in range(k)], dim=0)
                w = (0.5 + torch.rand(4, generator=g)).float()
                b = torch.randn(4, generator=g).float()
                groups = 2
            x = x.contiguous()
            dy = torch.randn(x.shape, generator=g).float()
            y, dx, dw, db = _per_sample_reference(x, w, b, dy, groups)
            save(os.path.join(d, f"{kind}_{case}.safetensors"),
                 {"x": x, "weight": w, "bias": b, "dy": dy, "y": y, "dx": dx, "dweight": dw, "dbias": db},
                 {"eps": EPS, "case": case, "layer": "LayerNorm(32)" if groups is None else "GroupNorm(2, 4)"})

