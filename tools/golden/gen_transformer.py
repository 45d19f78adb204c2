"""Golden fixtures for attention and Transformers: GELU, nn.MultiheadAttention, nn.TransformerEncoderLayer and a
small ViT built from PyTorch's own modules.

Writes golden/transformer/*.safetensors (float32; key-padding masks as int64 0/1). Every fixture seeds
torch.manual_seed with its own number. Parameters are drawn away from PyTorch's initial values (non-zero biases,
norm weights around 1) so every term of every gradient is exercised. Dropout is 0 everywhere.

gelu_none, gelu_tanh: x (6, 7) with ±8 and 0 included, dy; y, dx.
mha_self:   x (N, T, E) self-attention; param.<key> (state dict), y, dx, grad.<key>.
mha_cross:  q (N, Tq, E), k and v (N, Tk, E), mask (N, Tk) (1 = ignore); y, dq, dk, dv, grad.<key>.
enc_<placement>_<norm>_<act>: a TransformerEncoderLayer(batch_first=True, dropout=0) on x (N, T, E); param.<key>,
  y, dx, grad.<key>. The RMSNorm variant swaps norm1/norm2 for an RMSNorm (PyTorch 1.13 has none; the reference
  below computes y = x/sqrt(mean(x^2) + eps)*w with eps = layer_norm_eps), keeping the names norm1.weight, norm2.weight.
vit_<placement>_<pool>: the ViT of normlab.models.Vit (below, same names) on x (N, 1, 8, 8); param.<key>, y (logits),
  dx, grad.<key>.
"""
import os

import torch

from generate import save

torch.set_default_dtype(torch.float32)


class RMSNorm(torch.nn.Module):
    """y = x / sqrt(mean(x^2) + eps) * weight over the last dimension (nn.RMSNorm of PyTorch 2.4, for 1.13)."""

    def __init__(self, d, eps):
        super().__init__()
        self.eps = eps
        self.weight = torch.nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def encoder_layer(d, h, ff, norm_first, norm, act):
    layer = torch.nn.TransformerEncoderLayer(d, h, dim_feedforward=ff, dropout=0.0, activation=act,
                                             batch_first=True, norm_first=norm_first)
    if norm == "RMSNorm":
        layer.norm1 = RMSNorm(d, 1e-5)
        layer.norm2 = RMSNorm(d, 1e-5)
    return layer


class Vit(torch.nn.Module):
    """normlab.models.Vit's structure: conv_proj (patch embedding), class_token, pos_embedding, layers, norm, head."""

    def __init__(self, image, channels, patch, dim, depth, heads, mlp, classes, norm_first, norm, cls_token):
        super().__init__()
        tokens = (image // patch) ** 2 + (1 if cls_token else 0)
        self.cls = cls_token
        self.conv_proj = torch.nn.Conv2d(channels, dim, patch, stride=patch)
        if cls_token:
            self.class_token = torch.nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embedding = torch.nn.Parameter(torch.zeros(1, tokens, dim))
        self.layers = torch.nn.Sequential(*[encoder_layer(dim, heads, mlp, norm_first, norm, "gelu") for _ in range(depth)])
        self.norm = (RMSNorm(dim, 1e-5) if norm == "RMSNorm" else torch.nn.LayerNorm(dim)) if norm_first else None
        self.head = torch.nn.Linear(dim, classes)

    def forward(self, x):
        z = self.conv_proj(x).flatten(2).transpose(1, 2)  # (N, T, E)
        if self.cls:
            z = torch.cat([self.class_token.expand(z.shape[0], -1, -1), z], dim=1)
        z = self.layers(z + self.pos_embedding)
        if self.norm is not None:
            z = self.norm(z)
        return self.head(z[:, 0] if self.cls else z.mean(1))


def _randomize(module):
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("bias"):
                p.copy_(torch.randn_like(p) * 0.1)
            elif p.dim() == 1:  # norm weights
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif "embedding" in name or "token" in name:
                p.copy_(torch.randn_like(p) * 0.5)
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn_like(p) / fan_in ** 0.5)


def _record(module, inputs, extra=None):
    """Runs module(*inputs) forward and backward of a random dy; returns the fixture's tensors."""
    t = {}
    for k, v in module.state_dict().items():
        t["param." + k] = v.detach().clone()
    xs = [x.clone().requires_grad_(True) for x in inputs]
    y = module(*xs, **(extra or {}))
    if isinstance(y, tuple):
        y = y[0]
    dy = torch.randn_like(y)
    y.backward(dy)
    t["dy"] = dy
    t["y"] = y.detach()
    for k, p in module.named_parameters():
        t["grad." + k] = p.grad.detach().clone()
    return t, xs


def _gelu(out):
    for seed, approx in ((701, "none"), (702, "tanh")):
        torch.manual_seed(seed)
        x = torch.randn(6, 7) * 2
        x[0, 0], x[1, 1], x[2, 2] = 0.0, 8.0, -8.0
        x.requires_grad_(True)
        dy = torch.randn(6, 7)
        y = torch.nn.functional.gelu(x, approximate=approx)
        y.backward(dy)
        save(os.path.join(out, f"gelu_{approx}.safetensors"), {"x": x.detach(), "dy": dy, "y": y.detach(), "dx": x.grad})


def _mha(out):
    torch.manual_seed(711)
    n, t_, e, h = 3, 5, 8, 2
    mha = torch.nn.MultiheadAttention(e, h, batch_first=True)
    _randomize(mha)
    x = torch.randn(n, t_, e)
    xs = x.clone().requires_grad_(True)
    y, _ = mha(xs, xs, xs, need_weights=False)
    dy = torch.randn_like(y)
    y.backward(dy)
    t = {"x": x, "dy": dy, "y": y.detach(), "dx": xs.grad}
    for k, p in mha.named_parameters():
        t["grad." + k] = p.grad.detach().clone()
    for k, v in mha.state_dict().items():
        t["param." + k] = v.detach().clone()
    save(os.path.join(out, "mha_self.safetensors"), t, {"embed_dim": e, "num_heads": h})

    torch.manual_seed(712)
    tq, tk, e, h = 4, 6, 12, 3
    mha = torch.nn.MultiheadAttention(e, h, batch_first=True)
    _randomize(mha)
    q, k, v = torch.randn(n, tq, e), torch.randn(n, tk, e), torch.randn(n, tk, e)
    mask = torch.zeros(n, tk, dtype=torch.bool)
    mask[0, 5] = mask[1, 0] = mask[1, 3] = True
    qs, ks, vs = (a.clone().requires_grad_(True) for a in (q, k, v))
    y, _ = mha(qs, ks, vs, key_padding_mask=mask, need_weights=False)
    dy = torch.randn_like(y)
    y.backward(dy)
    t = {"q": q, "k": k, "v": v, "mask": mask.long(), "dy": dy, "y": y.detach(), "dq": qs.grad, "dk": ks.grad, "dv": vs.grad}
    for key, p in mha.named_parameters():
        t["grad." + key] = p.grad.detach().clone()
    for key, val in mha.state_dict().items():
        t["param." + key] = val.detach().clone()
    save(os.path.join(out, "mha_cross.safetensors"), t, {"embed_dim": e, "num_heads": h})


def _encoder(out):
    cases = [("post", "LayerNorm", "relu"), ("pre", "LayerNorm", "gelu"), ("post", "LayerNorm", "gelu"),
             ("pre", "LayerNorm", "relu"), ("pre", "RMSNorm", "gelu"), ("post", "RMSNorm", "relu")]
    for i, (placement, norm, act) in enumerate(cases):
        torch.manual_seed(721 + i)
        n, t_, d, h, ff = 3, 5, 8, 2, 16
        layer = encoder_layer(d, h, ff, placement == "pre", norm, act)
        _randomize(layer)
        x = torch.randn(n, t_, d)
        t, (xg,) = _record(layer, [x])
        t["x"] = x
        t["dx"] = xg.grad
        save(os.path.join(out, f"enc_{placement}_{norm.lower()}_{act}.safetensors"), t,
             {"d_model": d, "nhead": h, "dim_feedforward": ff, "norm_first": str(placement == "pre").lower(),
              "norm": norm, "activation": act})


def _vit(out):
    cases = [("pre", "LayerNorm", True), ("post", "LayerNorm", False), ("pre", "RMSNorm", False)]
    for i, (placement, norm, cls) in enumerate(cases):
        torch.manual_seed(741 + i)
        image, patch, dim, depth, heads, mlp, classes = 8, 4, 8, 2, 2, 16, 5
        vit = Vit(image, 1, patch, dim, depth, heads, mlp, classes, placement == "pre", norm, cls)
        _randomize(vit)
        x = torch.randn(3, 1, image, image)
        t, (xg,) = _record(vit, [x])
        t["x"] = x
        t["dx"] = xg.grad
        save(os.path.join(out, f"vit_{placement}_{norm.lower()}_{'cls' if cls else 'mean'}.safetensors"), t,
             {"image": image, "patch": patch, "dim": dim, "depth": depth, "heads": heads, "mlp": mlp,
              "classes": classes, "norm_first": str(placement == "pre").lower(), "norm": norm,
              "class_token": str(cls).lower()})


def generate(out_dir):
    out = os.path.join(out_dir, "transformer")
    os.makedirs(out, exist_ok=True)
    _gelu(out)
    _mha(out)
    _encoder(out)
    _vit(out)
