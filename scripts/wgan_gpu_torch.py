"""A wgan-gpu generator as a PyTorch module: `load_generator("runs/X/checkpoint.safetensors")`.

The checkpoint stores each network's layers under the names of an `nn.Sequential` of the same
layers (`g.0.weight`, `g.1.running_mean`, ...) and the layer list itself as JSON (`g_spec`), so
this builds the Sequential and `load_state_dict`s it. Needs torch and safetensors.
"""
import json
import math

import torch
from safetensors import safe_open
from torch import nn


class FlatLinear(nn.Linear):
    """nn.Linear on the flattened sample (wgan-gpu's linear layers take any input shape)."""

    def forward(self, x):
        return super().forward(x.flatten(1))


def build(spec):
    """The nn.Sequential of a wgan-gpu NetSpec (`g_spec` / `d_spec` in a checkpoint)."""
    (c, h, w), layers = spec["input"], []
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
    for layer in spec["layers"]:
        kind = layer["type"]
        if kind == "linear":
            layers.append(FlatLinear(c * h * w, layer["out"], bias=layer["bias"]))
            c, h, w = layer["out"], 1, 1
        elif kind in ("conv2d", "conv_transpose2d"):
            k, s, p = layer["kernel"], layer["stride"], layer["pad"]
            if kind == "conv2d":
                layers.append(nn.Conv2d(c, layer["out"], k, s, p, bias=layer["bias"]))
                h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            else:
                op = layer["output_padding"]
                layers.append(nn.ConvTranspose2d(c, layer["out"], k, s, p, op, bias=layer["bias"]))
                h, w = (h - 1) * s - 2 * p + k + op, (w - 1) * s - 2 * p + k + op
            c = layer["out"]
        elif kind == "batch_norm":
            norm = nn.BatchNorm1d if h * w == 1 else nn.BatchNorm2d
            layers.append(norm(c, eps=layer["eps"], momentum=layer["momentum"]))
        elif kind == "activation":
            f = layer["f"]
            layers.append(nn.LeakyReLU(f["leaky_relu"]) if isinstance(f, dict) else acts[f]())
        elif kind == "dropout":
            layers.append(nn.Dropout(layer["prob"]))
        elif kind == "reshape":
            c, h, w = layer["to"]
            layers.append(nn.Unflatten(1, (c, h, w)) if h * w > 1 else nn.Flatten(1))
        else:
            raise ValueError(f"unknown layer type {kind}")
    return nn.Sequential(*layers)


def load_generator(path, ema=True):
    """G (its moving average where the checkpoint has one and `ema`) in eval mode.

    Input: z of shape [N, z_dim] (with a conditional model's one-hot label appended);
    output: images [N, C, H, W] in [-1, 1] (in [0, 1] for a sigmoid generator).
    """
    with safe_open(path, "pt") as f:
        spec = json.loads(f.metadata()["g_spec"])
        names = list(f.keys())
        prefix = "g_ema." if ema and any(n.startswith("g_ema.") for n in names) else "g."
        state = {n[len(prefix):]: f.get_tensor(n) for n in names if n.startswith(prefix)}
    g = build(spec)
    g.load_state_dict(state)
    assert math.prod(spec["input"]) == g[0].in_features
    return g.eval()


if __name__ == "__main__":
    import sys

    g = load_generator(sys.argv[1])
    z = torch.randn(4, g[0].in_features)
    print(g, g(z).shape)
