#!/usr/bin/python3
"""Writes normlab's golden fixtures from PyTorch (Debian's python3-torch: run with /usr/bin/python3).

Each fixture is a safetensors file of float32/float64/int64 tensors (inputs, parameters, outputs, gradients, buffers)
under normlab-core/src/test/resources/golden/. The generator is deterministic: re-running it reproduces the same bytes.

    /usr/bin/python3 tools/golden/generate.py            # all groups
    /usr/bin/python3 tools/golden/generate.py core       # one group

Groups live in gen_*.py beside this file; each exposes generate(out_dir).
"""
import importlib
import json
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "normlab-core", "src", "test", "resources", "golden")
GROUPS = ["core", "family", "edge", "resnet", "rnn", "transformer"]

_DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.int32: "I32"}


def save(path, tensors, metadata=None):
    """Writes {name: tensor} as safetensors (keys sorted, data 8-byte aligned), without the safetensors package."""
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in sorted(metadata.items())}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        if t.dtype not in _DTYPES:
            raise ValueError(f"{name}: unsupported dtype {t.dtype}")
        raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    js = json.dumps(header, separators=(",", ":")).encode("utf-8")
    js += b" " * ((8 - len(js) % 8) % 8)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)


def main(argv):
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    groups = argv[1:] or GROUPS
    out = os.path.normpath(OUT)
    sys.path.insert(0, HERE)
    for g in groups:
        mod = importlib.import_module("gen_" + g)
        mod.generate(out)
        print(f"golden group '{g}' written to {out}")


if __name__ == "__main__":
    main(sys.argv)
