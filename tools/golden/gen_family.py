"""Golden fixtures for the normalization family and the convolutional layers (issue 4).

Writes golden/family/*.safetensors. Every fixture seeds torch.manual_seed with its own number, so fixtures are
independent of each other and of the order they are written in.

Layout of one fixture. Metadata: "layer" (which Java layer to build), its options, and "modes", a comma-separated
list with one entry ("train" or "eval") per recorded step. Keys:
  weight, bias, running_mean, running_var     initial parameters / buffers, when the layer has them
  step{k}.x, step{k}.dy                        input and upstream gradient of step k (float32)
  step{k}.mask                                 Dropout's keep-mask (0/1), when the layer is Dropout
  step{k}.y, step{k}.dx                        output and dL/dx, computed in float32
  step{k}.dweight, step{k}.dbias               parameter gradients of this step alone
  step{k}.running_mean, step{k}.running_var    buffers after the step, when the layer has running statistics
  step{k}.f64.<same>                           the same results computed in float64 from the same float32 inputs
                                               (the exact answer, float64 tensors)
LayerNorm, GroupNorm, InstanceNorm, Conv2d, the poolings and global average pooling come from torch.nn.functional.
RMSNorm (not in PyTorch 1.13) and FrozenBatchNorm2d (torchvision, not installed) are written from their definitions
in torch ops; Dropout is x·mask/(1−p) with a fixed mask (PyTorch's own mask stream cannot be reproduced).
BatchRenorm and GhostBatchNorm are independent references written here from the paper's formulas (Ioffe 2017,
Algorithm 1) and from Keras's virtual_batch_size semantics (reshape to (v, N/v, ...), statistics per ghost batch along
axis 1, one running update from the mean of the ghost-batch statistics); gradients by autograd.
"""
import math
import os

import torch
import torch.nn.functional as F

from generate import save


def _clone_all(d, dtype):
    return {k: (None if v is None else v.detach().clone().to(dtype)) for k, v in d.items()}


def _case(out, name, seed, layer, meta, make_params, fn, shapes, modes, grads=("weight", "bias"), buffers=(),
          extra_inputs=None):
    """Runs fn(x, params, buffers, mode, extra) for each step in float32 and float64 and writes the fixture.

    make_params() -> dict of initial parameters (requires_grad set here) and buffers; shapes: input shape per step
    (or one shape for all); extra_inputs(k, x) -> dict of per-step extra tensors (e.g. a dropout mask)."""
    torch.manual_seed(seed)
    init = make_params()
    t = {k: v.detach().clone() for k, v in init.items() if v is not None}
    state = {32: _clone_all(init, torch.float32), 64: _clone_all(init, torch.float64)}
    for k, mode in enumerate(modes):
        shape = shapes[k] if isinstance(shapes[0], (list, tuple)) else shapes
        x = _input(shape, meta)
        dy = None  # drawn after the first forward, with the output's shape
        extra = extra_inputs(k, x) if extra_inputs else {}
        t[f"step{k}.x"] = x.clone()
        for ek, ev in extra.items():
            t[f"step{k}.{ek}"] = ev.clone()
        for bits, dtype in ((32, torch.float32), (64, torch.float64)):
            st = state[bits]
            xx = x.to(dtype).clone().requires_grad_(True)
            params = {}
            for g in grads:
                if st.get(g) is not None:
                    st[g] = st[g].detach().requires_grad_(True)
                    params[g] = st[g]
            y = fn(xx, st, mode, {ek: ev.to(dtype) for ek, ev in extra.items()})
            if dy is None:
                dy = torch.randn(*y.shape)
            y.backward(dy.to(dtype))
            p = f"step{k}." + ("" if bits == 32 else "f64.")
            t[p + "y"] = y.detach().clone()
            t[p + "dx"] = xx.grad.detach().clone()
            for g, v in params.items():
                t[p + "d" + g] = v.grad.detach().clone()
                v.grad = None
            for b in buffers:
                t[p + b] = st[b].detach().clone()
        t[f"step{k}.dy"] = dy.clone()
    meta = dict(meta)
    meta["layer"] = layer
    meta["modes"] = ",".join(modes)
    save(os.path.join(out, name + ".safetensors"), t, meta)


def _input(shape, meta):
    if meta.get("ties"):
        return torch.randint(0, 3, shape).float()
    x = torch.randn(*shape)
    if meta.get("offset") is not None:
        x = x * float(meta["scale"]) + float(meta["offset"])
    return x


def _affine(c, weight=True, bias=True, shape=None):
    s = shape if shape is not None else (c,)

    def make():
        d = {}
        if weight:
            d["weight"] = torch.rand(*s) + 0.5
        if bias:
            d["bias"] = torch.randn(*s)
        return d
    return make


# --- LayerNorm / RMSNorm -------------------------------------------------------------------------------------------

def _layernorm(out):
    cases = [  # name, seed, input shape, normalized shape, affine, bias, extra meta
        ("ln_rows", 401, (4, 6), (6,), True, True, {}),
        ("ln_4d_last2", 402, (2, 3, 4, 5), (4, 5), True, True, {}),
        ("ln_nobias", 403, (3, 8), (8,), True, False, {}),
        ("ln_noaffine", 404, (3, 2, 5), (2, 5), False, False, {}),
        ("ln_batch1", 405, (1, 4, 3, 3), (4, 3, 3), True, True, {}),
        ("ln_offset", 406, (4, 16), (16,), True, True, {"offset": 1000.0, "scale": 0.05}),
    ]
    for name, seed, shape, ns, affine, bias, extra in cases:
        def fn(x, st, mode, ex, ns=ns):
            return F.layer_norm(x, ns, st.get("weight"), st.get("bias"), 1e-5)
        meta = {"normalized_shape": list(ns), "eps": "1e-05", "affine": str(affine).lower(), "bias": str(bias).lower(),
                "shape": list(shape), **extra}
        _case(out, name, seed, "LayerNorm", meta, _affine(0, affine, affine and bias, ns), fn, shape, ["train", "train"])


def _rmsnorm(out):
    cases = [  # name, seed, shape, normalized shape, eps (None = float32 epsilon), affine
        ("rms_rows", 411, (4, 10), (10,), None, True),
        ("rms_4d_last3", 412, (2, 3, 4, 5), (3, 4, 5), 1e-6, True),
        ("rms_noaffine", 413, (5, 7), (7,), None, False),
    ]
    for name, seed, shape, ns, eps, affine in cases:
        def fn(x, st, mode, ex, ns=ns, eps=eps):
            e = torch.finfo(torch.float32).eps if eps is None else eps  # PyTorch 2.x: eps=None -> finfo(x.dtype).eps
            dims = tuple(range(x.dim() - len(ns), x.dim()))
            y = x * torch.rsqrt(x.pow(2).mean(dims, keepdim=True) + e)
            return y * st["weight"] if "weight" in st else y
        meta = {"normalized_shape": list(ns), "eps": "none" if eps is None else repr(eps), "affine": str(affine).lower(),
                "shape": list(shape)}
        _case(out, name, seed, "RMSNorm", meta, _affine(0, affine, False, ns), fn, shape, ["train"])


# --- GroupNorm / InstanceNorm --------------------------------------------------------------------------------------

def _groupnorm(out):
    cases = [  # name, seed, shape, groups, affine
        ("gn_g1", 421, (2, 16, 3, 3), 1, True),
        ("gn_g2", 422, (2, 16, 3, 3), 2, True),
        ("gn_g8", 423, (2, 16, 3, 3), 8, True),
        ("gn_gC", 424, (2, 16, 3, 3), 16, True),
        ("gn_noaffine_1d", 425, (3, 6, 5), 3, False),
        ("gn_batch1", 426, (1, 8, 4, 4), 4, True),
    ]
    for name, seed, shape, g, affine in cases:
        def fn(x, st, mode, ex, g=g):
            return F.group_norm(x, g, st.get("weight"), st.get("bias"), 1e-5)
        meta = {"groups": g, "channels": shape[1], "eps": "1e-05", "affine": str(affine).lower(), "shape": list(shape)}
        _case(out, name, seed, "GroupNorm", meta, _affine(shape[1], affine, affine), fn, shape, ["train"])


def _instancenorm(out):
    cases = [  # name, seed, shape, affine, track, modes
        ("in2d", 431, (2, 3, 4, 4), False, False, ["train", "eval"]),
        ("in2d_affine_track", 432, (3, 4, 3, 5), True, True, ["train", "train", "eval"]),
        ("in1d_track", 433, (2, 3, 7), False, True, ["train", "eval"]),
        ("in2d_batch1_affine", 434, (1, 2, 3, 3), True, False, ["train"]),
    ]
    for name, seed, shape, affine, track, modes in cases:
        c = shape[1]

        def make(c=c, affine=affine, track=track):
            d = _affine(c, affine, affine)()
            if track:
                d["running_mean"] = torch.randn(c) * 0.5
                d["running_var"] = torch.rand(c) + 0.5
            return d

        def fn(x, st, mode, ex, track=track):
            use_input = mode == "train" or not track
            return F.instance_norm(x, st.get("running_mean"), st.get("running_var"), st.get("weight"), st.get("bias"),
                                   use_input, 0.1, 1e-5)
        meta = {"dims": len(shape) - 2, "num_features": c, "eps": "1e-05", "momentum": "0.1",
                "affine": str(affine).lower(), "track_running_stats": str(track).lower(), "shape": list(shape)}
        _case(out, name, seed, "InstanceNorm", meta, make, fn, shape, modes,
              buffers=("running_mean", "running_var") if track else ())


# --- Convolution, pooling, dropout ---------------------------------------------------------------------------------

def _conv(out):
    cases = [  # name, seed, input shape, out channels, kernel, stride, padding, dilation, groups, bias
        ("conv_k3_pad1", 441, (2, 3, 7, 6), 4, (3, 3), (1, 1), (1, 1), (1, 1), 1, True),
        ("conv_rect_stride_pad", 442, (2, 3, 9, 8), 5, (3, 2), (2, 3), (1, 2), (1, 1), 1, True),
        ("conv_dilation", 443, (2, 2, 9, 9), 3, (3, 3), (1, 1), (2, 2), (2, 2), 1, False),
        ("conv_groups", 444, (2, 4, 6, 5), 6, (3, 3), (1, 1), (0, 1), (1, 1), 2, True),
        ("conv_depthwise_s2", 445, (1, 4, 8, 8), 4, (3, 3), (2, 2), (1, 1), (1, 1), 4, False),
        ("conv_1x1", 446, (3, 5, 4, 4), 2, (1, 1), (1, 1), (0, 0), (1, 1), 1, True),
    ]
    for name, seed, shape, o, k, s, p, d, g, bias in cases:
        c = shape[1]

        def make(c=c, o=o, k=k, g=g, bias=bias):
            dd = {"weight": torch.randn(o, c // g, *k) * 0.3}
            if bias:
                dd["bias"] = torch.randn(o)
            return dd

        def fn(x, st, mode, ex, s=s, p=p, d=d, g=g):
            return F.conv2d(x, st["weight"], st.get("bias"), s, p, d, g)
        meta = {"in_channels": c, "out_channels": o, "kernel": list(k), "stride": list(s), "padding": list(p),
                "dilation": list(d), "groups": g, "bias": str(bias).lower(), "shape": list(shape)}
        _case(out, name, seed, "Conv2d", meta, make, fn, shape, ["train"])


def _pool(out):
    cases = [  # name, seed, layer, shape, kernel, stride, padding, count_include_pad, ties
        ("maxpool_k2", 451, "MaxPool2d", (2, 3, 6, 6), (2, 2), (2, 2), (0, 0), None, False),
        ("maxpool_k3_s2_p1", 452, "MaxPool2d", (2, 2, 7, 8), (3, 3), (2, 2), (1, 1), None, False),
        ("maxpool_rect", 453, "MaxPool2d", (1, 2, 5, 7), (2, 3), (1, 2), (1, 1), None, False),
        ("maxpool_ties", 454, "MaxPool2d", (2, 2, 6, 6), (3, 3), (1, 1), (1, 1), None, True),
        ("avgpool_k2", 455, "AvgPool2d", (2, 3, 6, 6), (2, 2), (2, 2), (0, 0), True, False),
        ("avgpool_k3_s2_p1", 456, "AvgPool2d", (2, 2, 7, 8), (3, 3), (2, 2), (1, 1), True, False),
        ("avgpool_k3_s2_p1_exclpad", 457, "AvgPool2d", (2, 2, 7, 8), (3, 3), (2, 2), (1, 1), False, False),
        ("avgpool_rect", 458, "AvgPool2d", (1, 2, 5, 7), (2, 3), (1, 2), (1, 1), True, False),
    ]
    for name, seed, layer, shape, k, s, p, cip, ties in cases:
        def fn(x, st, mode, ex, layer=layer, k=k, s=s, p=p, cip=cip):
            if layer == "MaxPool2d":
                return F.max_pool2d(x, k, s, p)
            return F.avg_pool2d(x, k, s, p, count_include_pad=cip)
        meta = {"kernel": list(k), "stride": list(s), "padding": list(p), "shape": list(shape)}
        if cip is not None:
            meta["count_include_pad"] = str(cip).lower()
        if ties:
            meta["ties"] = "true"
        _case(out, name, seed, layer, meta, dict, fn, shape, ["train"])

    def gap(x, st, mode, ex):
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
    _case(out, "globalavgpool", 459, "GlobalAvgPool", {"shape": [2, 3, 4, 5]}, dict, gap, (2, 3, 4, 5), ["train"])


def _dropout(out):
    p = 0.3

    def mask(k, x):
        return {"mask": torch.bernoulli(torch.full(x.shape, 1 - p))}

    def fn(x, st, mode, ex):
        return x * ex["mask"] / (1 - p) if mode == "train" else x * 1
    _case(out, "dropout_p03", 461, "Dropout", {"p": repr(p), "shape": [4, 10]}, dict, fn, (4, 10), ["train", "eval"],
          extra_inputs=mask)


# --- BatchNorm variants --------------------------------------------------------------------------------------------

def _frozen(out):
    c = 3

    def make():
        return {"weight": torch.rand(c) + 0.5, "bias": torch.randn(c), "running_mean": torch.randn(c),
                "running_var": torch.rand(c) + 0.2}

    def fn(x, st, mode, ex):
        # torchvision's FrozenBatchNorm2d: scale = w·rsqrt(rv + eps), bias = b − rm·scale, y = x·scale + bias
        scale = st["weight"] * (st["running_var"] + 1e-5).rsqrt()
        shift = st["bias"] - st["running_mean"] * scale
        return x * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1)
    _case(out, "frozenbn", 471, "FrozenBatchNorm2d", {"num_features": c, "eps": "1e-05", "shape": [2, c, 3, 4]},
          make, fn, (2, c, 3, 4), ["train", "eval"], grads=())


def _schedule(step, warmup, rmax_final, rmax_steps, dmax_final, dmax_steps):
    """rmax, dmax at a training step: 1 and 0 before warmup, then linear to the final values (the paper's relaxation)."""
    def ramp(end):
        if step < warmup:
            return 0.0
        if end <= warmup or step >= end:
            return 1.0
        return (step - warmup) / (end - warmup)
    if step < warmup:
        return 1.0, 0.0
    return 1.0 + (rmax_final - 1.0) * ramp(rmax_steps), dmax_final * ramp(dmax_steps)


def _batchrenorm(out):
    cases = [  # name, seed, shape per step, schedule (warmup, rmax, rmax_steps, dmax, dmax_steps), modes
        ("brn_const_nc", 481, (6, 3), (0, 1.5, 0, 0.5, 0), ["train", "train", "train", "eval"]),
        ("brn_sched_nchw", 482, (4, 3, 2, 2), (1, 3.0, 3, 2.0, 2), ["train", "train", "train", "train", "eval"]),
        ("brn_warmup_is_bn", 483, (5, 4), (5000, 3.0, 40000, 5.0, 25000), ["train", "train", "eval"]),
    ]
    momentum, eps = 0.1, 1e-5
    for name, seed, shape, sched, modes in cases:
        c = shape[1]
        step_counter = {32: 0, 64: 0}

        def make(c=c):
            d = _affine(c)()
            d["running_mean"] = torch.randn(c) * 0.5
            d["running_var"] = torch.rand(c) * 2 + 0.25
            return d

        def fn(x, st, mode, ex, sched=sched, counter=step_counter):
            dims = [0] + list(range(2, x.dim()))
            view = [1, -1] + [1] * (x.dim() - 2)
            w, b = st["weight"].view(view), st["bias"].view(view)
            if mode == "eval":
                sigma = torch.sqrt(st["running_var"] + eps).view(view)
                return w * (x - st["running_mean"].view(view)) / sigma + b
            bits = 64 if x.dtype == torch.float64 else 32
            step = counter[bits]
            rmax, dmax = _schedule(step, *sched)
            # Ioffe 2017, Algorithm 1
            mu_b = x.mean(dims)
            var_b = x.var(dims, unbiased=False)
            sigma_b = torch.sqrt(var_b + eps)
            sigma = torch.sqrt(st["running_var"] + eps)
            r = torch.clamp(sigma_b / sigma, 1.0 / rmax, rmax).detach()
            d = torch.clamp((mu_b - st["running_mean"]) / sigma, -dmax, dmax).detach()
            xhat = (x - mu_b.view(view)) / sigma_b.view(view) * r.view(view) + d.view(view)
            m = x.numel() // c
            with torch.no_grad():
                st["running_mean"] = (1 - momentum) * st["running_mean"] + momentum * mu_b
                st["running_var"] = (1 - momentum) * st["running_var"] + momentum * var_b * m / (m - 1)
            counter[bits] = step + 1
            return w * xhat + b
        meta = {"num_features": c, "eps": repr(eps), "momentum": repr(momentum), "warmup": sched[0],
                "rmax": repr(sched[1]), "rmax_steps": sched[2], "dmax": repr(sched[3]), "dmax_steps": sched[4],
                "shape": list(shape)}
        _case(out, name, seed, "BatchRenorm", meta, make, fn, shape, modes, buffers=("running_mean", "running_var"))


def _ghost_groups(n, v):
    """Keras: reshape (N, ...) to (v, N/v, ...), statistics over axis 0 -> ghost j holds samples j, j+G, j+2G, ...
    Extended to v not dividing N by filling the (., G) grid row by row with G = ceil(N/v)."""
    g = -(-n // v)
    return [list(range(j, n, g)) for j in range(g)]


def _ghostbn(out):
    cases = [  # name, seed, shape, virtual batch size, momentum, modes
        ("gbn_nc_v2", 491, (8, 3), 2, 0.1, ["train", "train", "eval"]),
        ("gbn_nchw_v3", 492, (6, 2, 3, 3), 3, 0.1, ["train", "eval"]),
        ("gbn_short_n10_v4", 493, (10, 3), 4, 0.1, ["train", "train", "eval"]),
        ("gbn_cma_v4", 494, (8, 2, 5), 4, None, ["train", "train", "eval"]),
        ("gbn_v_ge_n", 495, (4, 3), 8, 0.1, ["train", "eval"]),
    ]
    eps = 1e-5
    for name, seed, shape, v, momentum, modes in cases:
        c = shape[1]
        counter = {32: 0, 64: 0}

        def make(c=c):
            d = _affine(c)()
            d["running_mean"] = torch.zeros(c)
            d["running_var"] = torch.ones(c)
            return d

        def fn(x, st, mode, ex, v=v, momentum=momentum, counter=counter):
            view = [1, -1] + [1] * (x.dim() - 2)
            w, b = st["weight"].view(view), st["bias"].view(view)
            if mode == "eval":
                return w * (x - st["running_mean"].view(view)) / torch.sqrt(st["running_var"] + eps).view(view) + b
            n = x.shape[0]
            groups = _ghost_groups(n, v)
            dims = [0] + list(range(2, x.dim()))
            y = torch.empty_like(x)
            new_mean = torch.zeros(c, dtype=x.dtype)
            new_var = torch.zeros(c, dtype=x.dtype)
            means = []
            for idx in groups:
                xg = x[idx]
                mu = xg.mean(dims)
                var = xg.var(dims, unbiased=False)
                means.append(mu.detach())
                y[idx] = (xg - mu.view(view)) / torch.sqrt(var + eps).view(view) * w + b
                m = xg.numel() // c
                new_mean += len(idx) / n * mu.detach()
                new_var += len(idx) / n * var.detach() * m / (m - 1)
            if n % v == 0 and n >= v:
                # Cross-check against Keras's reshape: (v, N/v, C, ...), moments over every axis except 1 and 2.
                xr = x.detach().reshape(v, n // v, *x.shape[1:])
                red = [0] + list(range(3, xr.dim()))
                keras_mean = xr.mean(red)  # (N/v, C): one row per ghost batch
                assert torch.allclose(keras_mean, torch.stack(means), rtol=0, atol=1e-12 if x.dtype == torch.float64 else 1e-5)
            counter_bits = 64 if x.dtype == torch.float64 else 32
            counter[counter_bits] += 1
            f = momentum if momentum is not None else 1.0 / counter[counter_bits]
            with torch.no_grad():
                st["running_mean"] = (1 - f) * st["running_mean"] + f * new_mean
                st["running_var"] = (1 - f) * st["running_var"] + f * new_var
            return y
        meta = {"num_features": c, "virtual_batch_size": v, "eps": repr(eps),
                "momentum": "none" if momentum is None else repr(momentum), "shape": list(shape)}
        _case(out, name, seed, "GhostBatchNorm", meta, make, fn, shape, modes, buffers=("running_mean", "running_var"))


def generate(out_dir):
    out = os.path.join(out_dir, "family")
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.endswith(".safetensors"):
            os.remove(os.path.join(out, f))
    _layernorm(out)
    _rmsnorm(out)
    _groupnorm(out)
    _instancenorm(out)
    _conv(out)
    _pool(out)
    _dropout(out)
    _frozen(out)
    _batchrenorm(out)
    _ghostbn(out)
