#!/usr/bin/env python3
"""Checks that a checkpoint's generator loads into PyTorch (scripts/wgan_gpu_torch.py) and
draws what wgan-gpu draws from the same latent vectors: writes z.npy, runs
`wgan-gpu sample --z z.npy --format npy` (u8 pixels) and compares with the torch module's
output rounded the same way; exits 1 where any pixel differs by more than one level.

    python3 scripts/check_torch_loader.py CHECKPOINT [WGAN_GPU_BINARY]
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors import safe_open

sys.path.insert(0, os.path.dirname(__file__))
from wgan_gpu_torch import load_generator  # noqa: E402


def main(checkpoint, binary="target/release/wgan-gpu"):
    path = os.path.join(checkpoint, "checkpoint.safetensors") if os.path.isdir(checkpoint) else checkpoint
    g = load_generator(path)
    with safe_open(path, "pt") as f:
        classes = len(json.loads(f.metadata().get("data", "{}")).get("classes", []))
    # A conditional model draws class 1 (`sample --label 1`), its one-hot label after z.
    label = ["--label", "1"] if classes else []
    z = np.random.default_rng(0).standard_normal((16, g.in_features - classes)).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        zf, out = os.path.join(tmp, "z.npy"), os.path.join(tmp, "ours.npy")
        np.save(zf, z)
        subprocess.run([binary, "sample", "--checkpoint", path, "--z", zf, "--format", "npy", "--out", out] + label,
                       check=True, stderr=subprocess.DEVNULL)
        ours = np.load(out).astype(np.int32)
    one_hot = np.zeros((16, classes), np.float32)
    one_hot[:, 1:2] = 1.0
    with torch.no_grad():
        x = g(torch.from_numpy(np.concatenate([z, one_hot], axis=1))).numpy()
    theirs = np.clip(np.round((x + 1.0) * 127.5), 0, 255).astype(np.int32)
    theirs = theirs[:, 0] if theirs.shape[1] == 1 else theirs.transpose(0, 2, 3, 1)
    diff = np.abs(ours - theirs)
    print(f"PyTorch {torch.__version__}: {g.__class__.__name__} of {len(g)} layers loaded with load_state_dict; "
          f"{diff.size} pixels, {np.count_nonzero(diff)} differ by one level, largest difference {diff.max()}")
    return 0 if diff.max() <= 1 else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
