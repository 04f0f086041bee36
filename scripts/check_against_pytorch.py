#!/usr/bin/env python3
"""Replays every layer of `examples/pytorch_layers.rs` through PyTorch and compares.

Our tests prove the GPU equals our CPU reference; this proves both mean what PyTorch means:
the same weights and inputs through torch.nn.functional (conv2d, conv_transpose2d with
stride/padding/output_padding, batch norm in training and evaluation mode with its running
statistics, activations, the losses), autograd for every gradient, torch.optim.Adam, and
torch's spectral-norm formula (sigma = u^T W v with u, v from one power iteration, held
constant in the backward pass). Prints one line per tensor and exits 1 on any mismatch.

    python3 scripts/check_against_pytorch.py layers.safetensors
"""

import json
import sys

import torch
import torch.nn.functional as F
from safetensors import safe_open

ATOL, RTOL = 2e-5, 1e-4


def main(path):
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
        t = {k: f.get_tensor(k).double() for k in f.keys()}
    print(f"ours: {meta['adapter']}; PyTorch {torch.__version__} (float64)")
    failures = 0

    def check(case, name, want, shape=None):
        nonlocal failures
        got = t[f"{case}.out.{name}"]
        want = want.detach().reshape(-1)
        err = (got - want).abs()
        bound = ATOL + RTOL * want.abs()
        ok = bool((err <= bound).all())
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {case:18s} {name:9s} max |ours - torch| {err.max().item():.2e}")

    def inp(case, name, shape, grad=False):
        x = t[f"{case}.in.{name}"].reshape(shape).clone()
        return x.requires_grad_(grad)

    for key, value in sorted(meta.items()):
        if not key.startswith("case."):
            continue
        case, p = key[5:], json.loads(value)
        op = p["op"]
        if op == "linear":
            x = inp(case, "x", (p["n"], p["in"]), True)
            w = inp(case, "w", (p["out"], p["in"]), True)
            b = inp(case, "b", (p["out"],), True)
            y = F.linear(x, w, b)
            y.backward(inp(case, "dy", y.shape))
            for n, v in [("y", y), ("dx", x.grad), ("dw", w.grad), ("db", b.grad)]:
                check(case, n, v)
        elif op in ("conv2d", "conv_transpose2d"):
            n, c, h, wd, k, kk = p["n"], p["c"], p["h"], p["w"], p["k"], p["kernel"]
            x = inp(case, "x", (n, c, h, wd), True)
            if op == "conv2d":
                w = inp(case, "w", (k, c, kk, kk), True)
                b = inp(case, "b", (k,), True)
                y = F.conv2d(x, w, b, stride=p["stride"], padding=p["pad"])
            else:
                w = inp(case, "w", (c, k, kk, kk), True)
                b = inp(case, "b", (k,), True)
                y = F.conv_transpose2d(x, w, b, stride=p["stride"], padding=p["pad"],
                                       output_padding=p["output_padding"])
            y.backward(inp(case, "dy", y.shape))
            for nm, v in [("y", y), ("dx", x.grad), ("dw", w.grad), ("db", b.grad)]:
                check(case, nm, v)
        elif op == "batch_norm":
            n, c, sp = p["n"], p["c"], p["spatial"]
            shape = (n, c, 5, 5) if sp == 25 else (n, c)
            x = inp(case, "x", shape, True)
            g = inp(case, "gamma", (c,), True)
            b = inp(case, "beta", (c,), True)
            running = inp(case, "running", (2, c))
            rm, rv = running[0].clone(), running[1].clone()
            y = F.batch_norm(x, rm, rv, g, b, training=True, momentum=p["momentum"], eps=p["eps"])
            y.backward(inp(case, "dy", shape))
            y_eval = F.batch_norm(x, rm, rv, g, b, training=False, eps=p["eps"])
            for nm, v in [("y", y), ("dx", x.grad), ("dgamma", g.grad), ("dbeta", b.grad),
                          ("running", torch.cat([rm, rv])), ("y_eval", y_eval)]:
                check(case, nm, v)
        elif op in ("relu", "leaky_relu", "sigmoid", "tanh"):
            x = inp(case, "x", (50,), True)
            f = {"relu": F.relu, "leaky_relu": lambda v: F.leaky_relu(v, p["slope"]),
                 "sigmoid": torch.sigmoid, "tanh": torch.tanh}[op]
            y = f(x)
            y.backward(inp(case, "dy", (50,)))
            check(case, "y", y)
            check(case, "dx", x.grad)
        elif op in ("bce_with_logits", "mse", "hinge"):
            z = inp(case, "z", (-1,), True)
            tg = inp(case, "t", (-1,))
            if op == "bce_with_logits":
                per = F.binary_cross_entropy_with_logits(z, tg, reduction="none")
            elif op == "mse":
                per = F.mse_loss(z, tg, reduction="none")
            else:  # D's hinge: relu(1 - D(x)) on reals (t = 1), relu(1 + D(G(z))) on fakes (t = 0)
                per = F.relu(1 - (2 * tg - 1) * z)
            mean = per.mean()
            mean.backward()
            check(case, "loss", per)
            check(case, "mean", mean)
            check(case, "dz", z.grad)
        elif op == "spectral_norm":
            shape = p["shape"]
            w = inp(case, "w", shape, True)
            wm = w.reshape(shape[0], -1)
            u = inp(case, "u", (shape[0],))
            # torch.nn.utils.parametrizations.spectral_norm's _power_method and forward:
            with torch.no_grad():
                v = F.normalize(torch.mv(wm.t(), u), dim=0, eps=1e-12)
                u = F.normalize(torch.mv(wm, v), dim=0, eps=1e-12)
            sigma = torch.vdot(u, torch.mv(wm, v))
            w_sn = w / sigma
            w_sn.backward(inp(case, "dw", shape))
            check(case, "u", u)
            check(case, "v", v)
            check(case, "w_sn", w_sn)
            check(case, "dw", w.grad)
            got_sigma = t[f"{case}.out.state"][0].item()
            ok = abs(got_sigma - sigma.item()) <= ATOL + RTOL * abs(sigma.item())
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {case:18s} {'sigma':9s} ours {got_sigma:.6f} torch {sigma.item():.6f}")
        elif op == "adam":
            param = inp(case, "param", (-1,), True)
            opt = torch.optim.Adam([param], lr=p["lr"], betas=(p["beta1"], p["beta2"]), eps=p["eps"])
            for k in (1, 2, 3):
                opt.zero_grad()
                param.grad = inp(case, f"g{k}", (-1,))
                opt.step()
            check(case, "param", param)
            check(case, "m", opt.state[param]["exp_avg"])
            check(case, "v", opt.state[param]["exp_avg_sq"])
        else:
            print(f"FAIL {case}: no PyTorch replay for op {op}")
            failures += 1
    print("all layers agree with PyTorch" if failures == 0 else f"{failures} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "layers.safetensors"))
