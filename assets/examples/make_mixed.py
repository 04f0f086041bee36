"""Writes mixed.csv: 5000 rows of columns with shapes standardisation handles badly. `normal`
N(50, 10); `lognormal` exp(N(0, 0.6)), skewed; `two_peaks` 30% N(-3, 0.5) and 70% N(2, 1);
`linked` = 0.8 * z(normal) + 0.6 * N(0, 1), correlated 0.8 with `normal`; `count` Poisson(3), an
integer column; `colour` red/green/blue with shares 0.5/0.3/0.2, bluer rows having larger
`normal`. Usage: python3 make_mixed.py [seed] [out.csv] (defaults 0, mixed.csv)."""
import math
import random
import sys

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
out = sys.argv[2] if len(sys.argv) > 2 else "mixed.csv"
random.seed(seed)


def poisson(lam):
    k, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= random.random()
        if p < limit:
            return k
        k += 1


with open(out, "w") as f:
    f.write("normal,lognormal,two_peaks,linked,count,colour\n")
    for _ in range(5000):
        z = random.gauss(0, 1)
        peak = random.gauss(-3, 0.5) if random.random() < 0.3 else random.gauss(2, 1)
        u = random.random() + 0.15 * z
        colour = "red" if u < 0.5 else ("green" if u < 0.8 else "blue")
        f.write(
            f"{50 + 10 * z:.3f},{math.exp(random.gauss(0, 0.6)):.4f},{peak:.4f},"
            f"{0.8 * z + 0.6 * random.gauss(0, 1):.4f},{poisson(3)},{colour}\n"
        )
