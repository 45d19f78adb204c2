"""Golden fixtures for the recurrent layers (issue 17): golden/rnn/*.safetensors.

Plain LSTM and GRU come from torch.nn.LSTM / torch.nn.GRU. Layout of one fixture: metadata "layer" (LSTM, GRU),
input_size, hidden_size, num_layers, batch_first, initial ("zeros" or "given"). Keys:
  <state-dict key>                 the module's parameters (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ...)
  x, dy, h0, c0                    input, upstream gradient of the output, initial states (when given)
  y, h_n, c_n                      output and final states (float32 PyTorch)
  dx, dh0, dc0, d<key>             gradients of L = sum(y * dy)
  f64.<same>                       the same computed in float64 from the same float32 values
The normalized LSTM cells (normlab.rnn.NormLSTM) have no PyTorch module: norm_lstm() below writes the same math with
torch ops (F.layer_norm, F.batch_norm on per-step slices of the running buffers), gradients by autograd. Their fixtures
(metadata layer=NormLSTM, norm, input_size, hidden_size, max_length, batch_first, modes) hold the parameters and
buffers by normlab's state-dict keys and, per recorded step k, step{k}.x, .dy, .y, .dx, .d<param>, the buffers after
the step, and step{k}.f64.<same> in float64.
Every fixture seeds torch.manual_seed with its own number.
"""
import os

import torch
import torch.nn.functional as F

from generate import save


def _rnn_case(out, name, seed, cls, n, t, f, h, layers, batch_first, given):
    torch.manual_seed(seed)
    m = cls(f, h, num_layers=layers, batch_first=batch_first)
    shape = (n, t, f) if batch_first else (t, n, f)
    x = torch.randn(*shape)
    lstm = cls is torch.nn.LSTM
    h0 = torch.randn(layers, n, h) * 0.5 if given else None
    c0 = torch.randn(layers, n, h) * 0.5 if (given and lstm) else None
    dy = torch.randn(*((n, t, h) if batch_first else (t, n, h)))
    tensors = {k: v.detach().clone() for k, v in m.state_dict().items()}
    tensors.update(x=x, dy=dy)
    if given:
        tensors["h0"] = h0
        if lstm:
            tensors["c0"] = c0
    for dtype, p in ((torch.float32, ""), (torch.float64, "f64.")):
        mm = cls(f, h, num_layers=layers, batch_first=batch_first).to(dtype)
        mm.load_state_dict({k: v.to(dtype) for k, v in m.state_dict().items()}, strict=True)
        xx = x.detach().clone().to(dtype).requires_grad_(True)
        hh = h0.detach().clone().to(dtype).requires_grad_(True) if given else None
        cc = c0.detach().clone().to(dtype).requires_grad_(True) if (given and lstm) else None
        if lstm:
            y, (hn, cn) = mm(xx, (hh, cc)) if given else mm(xx)
        else:
            y, hn = mm(xx, hh) if given else mm(xx)
        (y * dy.to(dtype)).sum().backward()
        tensors[p + "y"] = y.detach()
        tensors[p + "h_n"] = hn.detach()
        if lstm:
            tensors[p + "c_n"] = cn.detach()
        tensors[p + "dx"] = xx.grad
        if given:
            tensors[p + "dh0"] = hh.grad
            if lstm:
                tensors[p + "dc0"] = cc.grad
        for k, v in mm.named_parameters():
            tensors[p + "d" + k] = v.grad
    meta = {"layer": cls.__name__, "input_size": f, "hidden_size": h, "num_layers": layers,
            "batch_first": str(batch_first).lower(), "initial": "given" if given else "zeros", "n": n, "t": t}
    save(os.path.join(out, name + ".safetensors"), tensors, meta)


def generate(out_dir):
    out = os.path.join(out_dir, "rnn")
    L, G = torch.nn.LSTM, torch.nn.GRU
    _rnn_case(out, "lstm_bf_l1", 1701, L, 3, 5, 4, 6, 1, True, False)
    _rnn_case(out, "lstm_tm_l2_h0", 1702, L, 2, 4, 3, 5, 2, False, True)
    _rnn_case(out, "lstm_bf_l2_h0", 1703, L, 4, 6, 5, 3, 2, True, True)
    _rnn_case(out, "lstm_t1", 1704, L, 2, 1, 3, 4, 1, True, True)
    _rnn_case(out, "gru_bf_l1", 1711, G, 3, 5, 4, 6, 1, True, False)
    _rnn_case(out, "gru_tm_l2_h0", 1712, G, 2, 4, 3, 5, 2, False, True)
    _rnn_case(out, "gru_bf_l2_h0", 1713, G, 4, 6, 5, 3, 2, True, True)
    generate_norm(out)


EPS, MOMENTUM = 1e-5, 0.1


def norm_lstm(x, p, buf, norm, training, max_length, batch_first):
    """The NormLSTM forward: a = N_ih(x W_ih^T) + N_hh(h W_hh^T) + b; c = f c + i g; h = o tanh(N_c(c)).

    LayerNorm ("layer"): over each row's 4H (H) values with gain and bias. BatchNorm ("batch": running slot min(t, S-1)
    of S = max_length; "batch_shared": slot 0 of one): over the batch at step t, gain only for ih/hh, gain and shift
    for c; training uses batch statistics and updates the slot, evaluation uses the slot."""
    xs = x if batch_first else x.transpose(0, 1)
    n, t, _ = xs.shape
    hs = p["weight_hh"].shape[1]
    h = xs.new_zeros(n, hs)
    c = xs.new_zeros(n, hs)
    outs = []
    slots = max_length if norm == "batch" else 1

    def nrm(v, name, s):
        if norm == "layer":
            return F.layer_norm(v, (v.shape[1],), p[name + ".weight"], p[name + ".bias"], EPS)
        k = min(s, slots - 1)
        return F.batch_norm(v, buf[name + ".running_mean"][k], buf[name + ".running_var"][k], p[name + ".weight"],
                            p.get(name + ".bias"), training, MOMENTUM, EPS)

    for s in range(t):
        a = nrm(xs[:, s] @ p["weight_ih"].t(), "norm_ih", s) + nrm(h @ p["weight_hh"].t(), "norm_hh", s) + p["bias"]
        i, f, g, o = a.chunk(4, 1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c = f * c + i * g
        h = o * torch.tanh(nrm(c, "norm_c", s))
        outs.append(h)
    y = torch.stack(outs, 1)
    return y if batch_first else y.transpose(0, 1)


def _norm_case(out, name, seed, norm, n, f, hs, max_length, batch_first, steps):
    """steps: list of (mode, T) recorded in order on the same parameters and buffers."""
    torch.manual_seed(seed)
    g4 = 4 * hs
    bound = 1 / hs ** 0.5
    p = {"weight_ih": (torch.rand(g4, f) * 2 - 1) * bound, "weight_hh": (torch.rand(g4, hs) * 2 - 1) * bound,
         "bias": (torch.rand(g4) * 2 - 1) * bound}
    for nm, size in (("norm_ih", g4), ("norm_hh", g4), ("norm_c", hs)):
        p[nm + ".weight"] = torch.rand(size) + 0.5
        if norm == "layer" or nm == "norm_c":
            p[nm + ".bias"] = torch.randn(size) * 0.5
    buf = {}
    if norm != "layer":
        slots = max_length if norm == "batch" else 1
        for nm, size in (("norm_ih", g4), ("norm_hh", g4), ("norm_c", hs)):
            buf[nm + ".running_mean"] = torch.randn(slots, size) * 0.1
            buf[nm + ".running_var"] = torch.rand(slots, size) + 0.5
    tensors = {k: v.clone() for k, v in list(p.items()) + list(buf.items())}
    state = {bits: ({k: v.clone().to(dt) for k, v in p.items()}, {k: v.clone().to(dt) for k, v in buf.items()})
             for bits, dt in ((32, torch.float32), (64, torch.float64))}
    for k, (mode, t) in enumerate(steps):
        x = torch.randn(*((n, t, f) if batch_first else (t, n, f)))
        dy = torch.randn(*((n, t, hs) if batch_first else (t, n, hs)))
        tensors[f"step{k}.x"] = x
        tensors[f"step{k}.dy"] = dy
        for bits, dt in ((32, torch.float32), (64, torch.float64)):
            pp, bb = state[bits]
            pp = {kk: vv.detach().requires_grad_(True) for kk, vv in pp.items()}
            state[bits] = (pp, bb)
            xx = x.clone().to(dt).requires_grad_(True)
            y = norm_lstm(xx, pp, bb, norm, mode == "train", max_length, batch_first)
            (y * dy.to(dt)).sum().backward()
            pre = f"step{k}." + ("" if bits == 32 else "f64.")
            tensors[pre + "y"] = y.detach().clone()
            tensors[pre + "dx"] = xx.grad.clone()
            for kk, vv in pp.items():
                tensors[pre + "d" + kk] = vv.grad.clone()
            for kk, vv in bb.items():
                tensors[pre + kk] = vv.clone()
    meta = {"layer": "NormLSTM", "norm": norm, "input_size": f, "hidden_size": hs, "max_length": max_length,
            "batch_first": str(batch_first).lower(), "modes": ",".join(m for m, _ in steps), "n": n}
    save(os.path.join(out, name + ".safetensors"), tensors, meta)


def generate_norm(out):
    _norm_case(out, "norm_ln", 1721, "layer", 3, 4, 5, 0, True, [("train", 5), ("eval", 4)])
    _norm_case(out, "norm_ln_tm", 1722, "layer", 2, 3, 4, 0, False, [("train", 3)])
    # per-step statistics: two training steps (T = 4 and 3 <= T_max), evaluation within and beyond T_max
    _norm_case(out, "norm_bn", 1723, "batch", 4, 3, 4, 4, True, [("train", 4), ("train", 3), ("eval", 4), ("eval", 6)])
    _norm_case(out, "norm_bn_shared", 1724, "batch_shared", 4, 3, 4, 0, True, [("train", 4), ("eval", 5)])
    _norm_case(out, "norm_bn_tm", 1725, "batch", 3, 2, 3, 3, False, [("train", 3), ("eval", 3)])
