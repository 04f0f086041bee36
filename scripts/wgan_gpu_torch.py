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


class Residual(nn.Module):
    """main(x) + shortcut(x); an empty shortcut is the identity."""

    def __init__(self, main, shortcut):
        super().__init__()
        self.main, self.shortcut = main, shortcut

    def forward(self, x):
        return self.main(x) + self.shortcut(x)


class Blend(nn.Module):
    """(1 - alpha) a(x) + alpha b(x): a progressive fade-in, alpha set from outside (0 to
    start with, as in wgan-gpu)."""

    def __init__(self, a, b, alpha=0.0):
        super().__init__()
        self.a, self.b, self.alpha = a, b, alpha

    def forward(self, x):
        return (1 - self.alpha) * self.a(x) + self.alpha * self.b(x)


class ConditionalBatchNorm(nn.Module):
    """Batch norm without an affine of its own, then the class's row of `weight` and `bias`
    [classes, c]. The class is the one-hot label at the end of G's input, which
    `LabelledSequential` hands to every such layer before its forward pass."""

    def __init__(self, classes, c, eps, momentum):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(classes, c))
        self.bias = nn.Parameter(torch.zeros(classes, c))
        self.register_buffer("running_mean", torch.zeros(c))
        self.register_buffer("running_var", torch.ones(c))
        self.one_hot = None

    def forward(self, x):
        x = nn.functional.batch_norm(x, self.running_mean, self.running_var, None, None, self.training,
                                     self.momentum, self.eps)
        shape = (x.shape[0], -1) + (1,) * (x.dim() - 2)
        return x * (self.one_hot @ self.weight).view(shape) + (self.one_hot @ self.bias).view(shape)


class PixelNorm(nn.Module):
    """x / sqrt(mean over the channels of x^2 + eps) at every sample and pixel (Karras et al.
    2018); dim 1 is the channels of [N, C, H, W] and the features of [N, F] alike."""

    def __init__(self, eps):
        super().__init__()
        self.eps = eps

    def forward(self, x):
        return x / torch.sqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)


class MinibatchStddev(nn.Module):
    """One more channel: the mean over features of their standard deviation across the whole
    batch (biased, 1e-8 under the root), the same at every sample and pixel (Karras et al. 2018)."""

    def forward(self, x):
        s = torch.sqrt(x.var(dim=0, unbiased=False) + 1e-8).mean()
        return torch.cat([x, s.expand(x.shape[0], 1, *x.shape[2:])], dim=1)


class LabelledSequential(nn.Sequential):
    """A Sequential whose conditional batch norms read the one-hot label that ends its input."""

    def forward(self, x):
        for m in self.modules():
            if isinstance(m, ConditionalBatchNorm):
                m.one_hot = x[:, -m.weight.shape[0]:]
        return super().forward(x)


def build_layers(layers, shape):
    """The nn.Sequential of a list of wgan-gpu layers on per-sample input `shape` (c, h, w),
    and its output shape. Blocks nest: their paths are Sequentials named as the checkpoint
    names them (`2.main.0.weight`)."""
    (c, h, w), out = shape, []
    acts = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
    for layer in layers:
        kind = layer["type"]
        if kind == "linear":
            out.append(FlatLinear(c * h * w, layer["out"], bias=layer["bias"]))
            c, h, w = layer["out"], 1, 1
        elif kind in ("conv2d", "conv_transpose2d"):
            k, s, p = layer["kernel"], layer["stride"], layer["pad"]
            if kind == "conv2d":
                out.append(nn.Conv2d(c, layer["out"], k, s, p, bias=layer["bias"]))
                h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
            else:
                op = layer["output_padding"]
                out.append(nn.ConvTranspose2d(c, layer["out"], k, s, p, op, bias=layer["bias"]))
                h, w = (h - 1) * s - 2 * p + k + op, (w - 1) * s - 2 * p + k + op
            c = layer["out"]
        elif kind == "batch_norm":
            norm = nn.BatchNorm1d if h * w == 1 else nn.BatchNorm2d
            out.append(norm(c, eps=layer["eps"], momentum=layer["momentum"]))
        elif kind == "conditional_batch_norm":
            out.append(ConditionalBatchNorm(layer["classes"], c, layer["eps"], layer["momentum"]))
        elif kind == "pixel_norm":
            out.append(PixelNorm(layer["eps"]))
        elif kind == "minibatch_stddev":
            out.append(MinibatchStddev())
            c += 1
        elif kind == "activation":
            f = layer["f"]
            out.append(nn.LeakyReLU(f["leaky_relu"]) if isinstance(f, dict) else acts[f]())
        elif kind == "dropout":
            out.append(nn.Dropout(layer["prob"]))
        elif kind == "reshape":
            c, h, w = layer["to"]
            out.append(nn.Unflatten(1, (c, h, w)) if h * w > 1 else nn.Flatten(1))
        elif kind == "upsample":
            mode = layer["mode"]
            out.append(nn.Upsample(scale_factor=2, mode=mode, align_corners=False if mode == "bilinear" else None))
            h, w = 2 * h, 2 * w
        elif kind == "avg_pool":
            out.append(nn.AvgPool2d(2))
            h, w = h // 2, w // 2
        elif kind == "residual":
            main, after = build_layers(layer["main"], (c, h, w))
            shortcut, _ = build_layers(layer.get("shortcut", []), (c, h, w))
            out.append(Residual(main, shortcut))
            c, h, w = after
        elif kind == "blend":
            a, after = build_layers(layer["a"], (c, h, w))
            b, _ = build_layers(layer["b"], (c, h, w))
            out.append(Blend(a, b))
            c, h, w = after
        else:
            raise ValueError(f"unknown layer type {kind}")
    return nn.Sequential(*out), (c, h, w)


def build(spec):
    """The nn.Sequential of a wgan-gpu NetSpec (`g_spec` / `d_spec` in a checkpoint)."""
    seq = build_layers(spec["layers"], spec["input"])[0]
    if any(isinstance(m, ConditionalBatchNorm) for m in seq.modules()):
        return LabelledSequential(*seq)
    return seq


def load_generator(path, ema=True):
    """G (its moving average where the checkpoint has one and `ema`) in eval mode.

    Input: z of shape [N, z_dim] (with a conditional model's one-hot label appended);
    output: images [N, C, H, W] in [-1, 1] (in [0, 1] for a sigmoid generator).
    """
    with safe_open(path, "pt") as f:
        spec = json.loads(f.metadata()["g_spec"])
        # Progressive growing saved in the middle of a fade-in: its blends' α.
        alpha = float(f.metadata().get("blend_alpha", "0"))
        names = list(f.keys())
        prefix = "g_ema." if ema and any(n.startswith("g_ema.") for n in names) else "g."
        state = {n[len(prefix):]: f.get_tensor(n) for n in names if n.startswith(prefix)}
    g = build(spec)
    g.load_state_dict(state)
    for m in g.modules():
        if isinstance(m, Blend):
            m.alpha = alpha
    # G's input size (z, then a conditional model's one-hot label), whatever its first layer.
    g.in_features = math.prod(spec["input"])
    return g.eval()


if __name__ == "__main__":
    import sys

    g = load_generator(sys.argv[1])
    z = torch.randn(4, g.in_features)
    print(g, g(z).shape)
