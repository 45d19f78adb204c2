"""Golden fixtures for the recurrent layers (issue 17): golden/rnn/*.safetensors.

Plain LSTM and GRU come from torch.nn.LSTM / torch.nn.GRU. Layout of one fixture: metadata "layer" (LSTM, GRU),
input_size, hidden_size, num_layers, batch_first, initial ("zeros" or "given"). Keys:
  <state-dict key>                 the module's parameters (weight_ih_l0, weight_hh_l0, bias_ih_l0, bias_hh_l0, ...)
  x, dy, h0, c0                    input, upstream gradient of the output, initial states (when given)
  y, h_n, c_n                      output and final states (float32 PyTorch)
  dx, dh0, dc0, d<key>             gradients of L = sum(y * dy)
  f64.<same>                       the same computed in float64 from the same float32 values
Every fixture seeds torch.manual_seed with its own number.
"""
import os

import torch

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
