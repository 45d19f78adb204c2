"""Golden fixtures for the residual blocks and a small ResNet (issue 17).

Writes golden/resnet/*.safetensors. The PyTorch definitions below are the reference for normlab.nn.BasicBlock,
normlab.nn.PreActBlock and normlab.models.ResNet: same computation, same attribute names, so a state dict written here
loads strictly into normlab (the Java test does exactly that, which is the interop check of the block layout).

  BasicBlock (He et al. 2015):  y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)),
                                shortcut = downsample = Sequential(conv1x1 stride s, norm) when s != 1 or in != out
  PreActBlock (He et al. 2016): a = relu(bn1(x)); y = conv2(relu(bn2(conv1(a)))) + (downsample(a) or x),
                                downsample = Sequential(conv1x1 stride s)

Every fixture seeds torch.manual_seed with its own number. Keys of a block fixture (metadata: kind, norm, in, out,
stride, groups):
  init.<state key>          parameters and buffers before the step (γ, β drawn away from 1, 0)
  x, dy                     input and upstream gradient
  y, dx, grad.<param key>   train-mode output and gradients (float32)
  after.<buffer key>        running statistics after the forward (BN)
Keys of a network fixture (metadata: kind, norm, depth, widths, strides): init.*, x, labels (int64), loss, logits, dx,
grad.*, after.* as above (one train step, cross-entropy, mean over the batch), and eval_logits: the logits in eval mode
after that forward (running statistics in use).
"""
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from generate import save


def norm_layer(kind, c, groups):
    if kind == "bn":
        return nn.BatchNorm2d(c)
    if kind == "gn":
        return nn.GroupNorm(groups, c)
    return nn.Identity()


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride, norm, groups=2):
        super().__init__()
        bias = norm == "none"
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=bias)
        self.bn1 = norm_layer(norm, cout, groups)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=bias)
        self.bn2 = norm_layer(norm, cout, groups)
        self.downsample = None
        if stride != 1 or cin != cout:
            layers = [nn.Conv2d(cin, cout, 1, stride, 0, bias=bias)]
            if norm != "none":
                layers.append(norm_layer(norm, cout, groups))
            self.downsample = nn.Sequential(*layers)
        self.relu2 = nn.ReLU()

    def forward(self, x):
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x if self.downsample is None else self.downsample(x)
        return self.relu2(out + sc)


class PreActBlock(nn.Module):
    def __init__(self, cin, cout, stride, norm, groups=2):
        super().__init__()
        bias = norm == "none"
        self.bn1 = norm_layer(norm, cin, groups)
        self.relu1 = nn.ReLU()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=bias)
        self.bn2 = norm_layer(norm, cout, groups)
        self.relu2 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=bias)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=bias))

    def forward(self, x):
        a = self.relu1(self.bn1(x))
        sc = x if self.downsample is None else self.downsample(a)
        out = self.conv2(self.relu2(self.bn2(self.conv1(a))))
        return out + sc


class GlobalAvgPool(nn.Module):
    def forward(self, x):
        return x.mean(dim=(2, 3))


def resnet(kind, norm, depth, widths, strides, groups=2, cin=1, classes=10):
    """normlab.models.ResNet as an nn.Sequential (same indices, so the same state-dict keys)."""
    n = (depth - 2) // 6
    layers = [nn.Conv2d(cin, widths[0], 3, 1, 1, bias=norm == "none")]
    if kind == "post":
        if norm != "none":
            layers.append(norm_layer(norm, widths[0], groups))
        layers.append(nn.ReLU())
    block = BasicBlock if kind == "post" else PreActBlock
    c = widths[0]
    for s in range(3):
        blocks = []
        for b in range(n):
            blocks.append(block(c, widths[s], strides[s] if b == 0 else 1, norm, groups))
            c = widths[s]
        layers.append(nn.Sequential(*blocks))
    if kind == "pre":
        if norm != "none":
            layers.append(norm_layer(norm, c, groups))
        layers.append(nn.ReLU())
    layers += [GlobalAvgPool(), nn.Linear(c, classes)]
    return nn.Sequential(*layers)


def _perturb_affine(model):
    """γ away from 1 and β away from 0 (and running stats away from their defaults), so every term is exercised."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                m.weight.uniform_(0.5, 1.5)
                m.bias.normal_(0, 0.2)
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.3)
                m.running_var.uniform_(0.5, 2.0)
                m.num_batches_tracked.fill_(3)


def _record(t, model, prefix):
    for k, v in model.state_dict().items():
        t[prefix + k] = v.detach().clone()


def _block_case(out, seed, kind, norm, cin, cout, stride, n=4, hw=6, groups=2):
    torch.manual_seed(seed)
    m = (BasicBlock if kind == "post" else PreActBlock)(cin, cout, stride, norm, groups)
    _perturb_affine(m)
    m.train()
    t = {}
    _record(t, m, "init.")
    x = torch.randn(n, cin, hw, hw).requires_grad_(True)
    y = m(x)
    dy = torch.randn(*y.shape)
    y.backward(dy)
    t["x"] = x.detach().clone()
    t["dy"] = dy
    t["y"] = y.detach().clone()
    t["dx"] = x.grad.detach().clone()
    for k, p in m.named_parameters():
        t["grad." + k] = p.grad.detach().clone()
    for k, b in m.named_buffers():
        t["after." + k] = b.detach().clone()
    sc = "proj" if (stride != 1 or cin != cout) else "id"
    name = f"block_{kind}_{norm}_{sc}"
    save(os.path.join(out, name + ".safetensors"), t,
         {"kind": kind, "norm": norm, "in": cin, "out": cout, "stride": stride, "groups": groups})


def _net_case(out, seed, kind, norm, depth=8, widths=(4, 8, 8), strides=(1, 2, 2), n=4, hw=12, groups=2):
    torch.manual_seed(seed)
    m = resnet(kind, norm, depth, widths, strides, groups)
    _perturb_affine(m)
    m.train()
    t = {}
    _record(t, m, "init.")
    x = torch.randn(n, 1, hw, hw).requires_grad_(True)
    labels = torch.randint(0, 10, (n,))
    logits = m(x)
    loss = F.cross_entropy(logits, labels)
    loss.backward()
    t["x"] = x.detach().clone()
    t["labels"] = labels
    t["logits"] = logits.detach().clone()
    t["loss"] = loss.detach().clone().reshape(1)
    t["dx"] = x.grad.detach().clone()
    for k, p in m.named_parameters():
        t["grad." + k] = p.grad.detach().clone()
    for k, b in m.named_buffers():
        t["after." + k] = b.detach().clone()
    m.eval()
    with torch.no_grad():
        t["eval_logits"] = m(x.detach())
    name = f"net_{kind}{depth}_{norm}"
    save(os.path.join(out, name + ".safetensors"), t,
         {"kind": kind, "norm": norm, "depth": depth, "widths": ",".join(map(str, widths)),
          "strides": ",".join(map(str, strides)), "groups": groups})


def generate(out_dir):
    out = os.path.join(out_dir, "resnet")
    seed = 1700
    for kind in ("post", "pre"):
        for norm in ("bn", "gn", "none"):
            _block_case(out, seed, kind, norm, 4, 4, 1)       # identity shortcut
            _block_case(out, seed + 1, kind, norm, 4, 6, 2, hw=7)  # projection, odd size
            seed += 2
    for kind in ("post", "pre"):
        for norm in ("bn", "gn", "none"):
            _net_case(out, seed, kind, norm)
            seed += 1
