#!/usr/bin/env python3
"""pytorch/examples' DCGAN (dcgan/main.py) on a folder of pictures, for a set time: the reference
the README's table of models for your own pictures sets ours beside.

The model and training are that example's, unchanged: 64x64 images, nz 100, ngf = ndf = 64,
batch norm in G and D, weights N(0, 0.02) (batch norm's scale N(1, 0.02)), BCE, Adam 2e-4 with
betas (0.5, 0.999), batch 64. The folder is read as torchvision's ImageFolder + Resize(64) +
CenterCrop(64) would read it (every image file below the folder, RGB, transparency composited over
black as wgan-gpu composites it), with PIL and numpy only.
After --minutes of training it writes a grid of 64 samples and --n samples as an [n, 3, 64, 64]
float32 .npy in [-1, 1], which `wgan-gpu eval --real FOLDER --samples samples.npy` scores.

Usage:
  python3 scripts/pytorch_dcgan_folder.py FOLDER --minutes 30 --out runs/pytorch-dcgan
  wgan-gpu eval --real FOLDER --samples runs/pytorch-dcgan/samples.npy
Needs torch, numpy and Pillow. Threads: torch's default (all cores); --threads sets it.
"""

import argparse
import os
import time

import numpy as np
import torch
from PIL import Image
from torch import nn

EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def load_folder(root, size):
    """Every image below `root` as [N, 3, size, size] float32 in [-1, 1]: the shorter side
    resized to `size` (bilinear, antialiased), then the centre square."""
    paths = sorted(
        os.path.join(d, f) for d, _, files in os.walk(root) for f in files if f.lower().endswith(EXTENSIONS)
    )
    images = []
    for path in paths:
        img = Image.open(path)
        if "A" in img.getbands() or "transparency" in img.info:
            # Over black, as wgan-gpu reads a folder (ImageFolder's convert("RGB") would keep the
            # colour of invisible pixels, and both sides must see the same pictures to be compared).
            rgba = img.convert("RGBA")
            img = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba)
        img = img.convert("RGB")
        w, h = img.size
        scale = size / min(w, h)
        img = img.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BILINEAR)
        w, h = img.size
        left, top = (w - size) // 2, (h - size) // 2
        img = img.crop((left, top, left + size, top + size))
        images.append(np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / 127.5 - 1.0)
    if not images:
        raise SystemExit(f"no images below {root}")
    return torch.from_numpy(np.stack(images))


class Generator(nn.Module):
    def __init__(self, nz=100, ngf=64, nc=3):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z):
        return self.main(z)


class Discriminator(nn.Module):
    def __init__(self, ndf=64, nc=3):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return self.main(x).view(-1, 1).squeeze(1)


def weights_init(m):
    name = m.__class__.__name__
    if name.find("Conv") != -1:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif name.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


def save_grid(x, path, rows=8):
    """x [n, 3, h, w] in [-1, 1] as a PNG grid with 2-pixel borders."""
    n, _, h, w = x.shape
    cols = (n + rows - 1) // rows
    grid = np.zeros((3, rows * (h + 2) + 2, cols * (w + 2) + 2), dtype=np.uint8)
    pixels = ((x.clamp(-1, 1) + 1) * 127.5).round().byte().numpy()
    for i in range(n):
        r, c = divmod(i, cols)
        grid[:, 2 + r * (h + 2) : 2 + r * (h + 2) + h, 2 + c * (w + 2) : 2 + c * (w + 2) + w] = pixels[i]
    Image.fromarray(grid.transpose(1, 2, 0)).save(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--out", default="runs/pytorch-dcgan")
    ap.add_argument("--n", type=int, default=2000, help="samples written for eval")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)
    data = load_folder(args.folder, 64)
    batch, nz = 64, 100
    net_g, net_d = Generator(nz), Discriminator()
    net_g.apply(weights_init)
    net_d.apply(weights_init)
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    fixed = torch.randn(64, nz, 1, 1)
    started, steps, epochs = time.time(), 0, 0
    while time.time() - started < 60 * args.minutes:
        # As DataLoader(shuffle=True) with the last partial batch kept.
        for idx in torch.randperm(len(data)).split(batch):
            real = data[idx]
            n = real.shape[0]
            net_d.zero_grad()
            err_real = criterion(net_d(real), torch.full((n,), 1.0))
            err_real.backward()
            fake = net_g(torch.randn(n, nz, 1, 1))
            err_fake = criterion(net_d(fake.detach()), torch.full((n,), 0.0))
            err_fake.backward()
            opt_d.step()
            net_g.zero_grad()
            err_g = criterion(net_d(fake), torch.full((n,), 1.0))
            err_g.backward()
            opt_g.step()
            steps += 1
            if time.time() - started >= 60 * args.minutes:
                break
        epochs += 1
        print(f"epoch {epochs}: {steps} steps, {time.time() - started:.0f} s, D {(err_real + err_fake).item():.3f} G {err_g.item():.3f}")
    # Drawn as the example draws its pictures: G in training mode (batch statistics).
    with torch.no_grad():
        save_grid(net_g(fixed), os.path.join(args.out, "grid.png"))
        samples = torch.cat([net_g(torch.randn(min(500, args.n - i), nz, 1, 1)) for i in range(0, args.n, 500)])
    np.save(os.path.join(args.out, "samples.npy"), samples.numpy().astype(np.float32))
    print(f"{steps} steps in {epochs} epochs; wrote {args.out}/grid.png and samples.npy")


if __name__ == "__main__":
    main()
