"""Writes ring.csv: 4000 points from 8 Gaussians (std 0.05) on a circle of radius 2, the toy set
on which Metz et al. 2016 (unrolled GANs) showed mode collapse. Columns x, y. Seeded."""
import math
import random

random.seed(0)
with open("ring.csv", "w") as f:
    f.write("x,y\n")
    for i in range(4000):
        k = i % 8
        a = 2 * math.pi * k / 8
        f.write(f"{2 * math.cos(a) + random.gauss(0, 0.05):.4f},{2 * math.sin(a) + random.gauss(0, 0.05):.4f}\n")
