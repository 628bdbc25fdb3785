"""How much a curve amplifies noise where the foreground has pixels: the two measures of the model
card, `make eval` and validate.py.

- slope: the local slope of the applied lookup table (output levels per input level, 1 is the
  identity) at each foreground pixel's own level, per channel; the 99th percentile over the pixels.
  A curve may be steep where the foreground has no pixels: that costs nothing.
- noise gain: high-frequency energy (the image minus its 3x3 box blur) of the output over that of
  the input, inside the mask, per block (64 px at native size); the 90th percentile over the blocks
  that are mostly foreground and not flat. "Inside" is the pixels whose whole 3x3 neighbourhood is
  in the mask (>= 0.5): at the mask's edge the high-pass also sees the pixels outside, so it measures
  the step between the corrected foreground and its surroundings (the harmonisation itself, which
  the real photo does not have) rather than the grain. Until stage 6 the edge pixels counted too.

Both pool over a whole set (a validation set, the ten iHarmony4 triplets, a clip's frames): give
`Pool` every picture and read the percentiles at the end.
"""
import torch
import torch.nn.functional as F

FLAT = (0.5 / 255) ** 2          # a block whose input energy is below this has no grain to amplify


def local_slopes(lut):
    """(..., 3, N) table of outputs in 0..1 at inputs 0..1 -> (..., 3, N) slope at each entry, in
    levels per level: the central difference (one-sided at the ends)."""
    n = lut.shape[-1]
    up = torch.cat([lut[..., 1:], lut[..., -1:]], -1)
    down = torch.cat([lut[..., :1], lut[..., :-1]], -1)
    span = torch.full((n,), 2.0, dtype=lut.dtype, device=lut.device)
    span[0] = span[-1] = 1
    return (up - down) / span * (n - 1)


def foreground_histogram(image, mask, n, dtype=torch.float64):
    """(..., 3, H, W) image in 0..1 and (..., 1, H, W) mask -> (..., 3, n): per channel, how many
    pixels inside the mask (>= 0.5) sit at each of the n levels of a lookup table."""
    levels = (image.clamp(0, 1) * (n - 1)).round().long().flatten(-2)
    inside = (mask >= 0.5).to(dtype).flatten(-2).expand(levels.shape)
    return torch.zeros(*levels.shape[:-1], n, dtype=dtype, device=image.device).scatter_add_(-1, levels, inside)


def weighted_quantile(values, weights, q):
    order = values.argsort()
    v, w = values[order], weights[order].double()
    cum = w.cumsum(0)
    if cum[-1] <= 0:
        return float("nan")
    return float(v[min(int(torch.searchsorted(cum, q * cum[-1])), len(v) - 1)])


def high_pass(x):
    """The image minus its 3x3 box blur: grain, texture and edges. x: (C, H, W) or (B, C, H, W)."""
    return x - F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


def block_gains(inp, out, mask, block):
    """(3, H, W) input and output in 0..1, (1, H, W) mask -> gain of each counted block."""
    def hf(x):
        return high_pass(x).pow(2).sum(0, keepdim=True)
    on = (mask >= 0.5).float()
    on = -F.max_pool2d(-on.unsqueeze(0), 3, 1, 1)[0]           # eroded by one pixel: see the docstring
    e_in = F.avg_pool2d((hf(inp) * on).unsqueeze(0), block, block, ceil_mode=True)[0]
    e_out = F.avg_pool2d((hf(out) * on).unsqueeze(0), block, block, ceil_mode=True)[0]
    share = F.avg_pool2d(on.unsqueeze(0), block, block, ceil_mode=True)[0]
    counted = (share >= 0.5) & (e_in / share.clamp(min=1e-6) >= FLAT)
    return (e_out[counted] / e_in[counted]).flatten()


class Pool:
    """Slope and noise-gain samples over a set of pictures."""

    def __init__(self, guard=4.0):
        self.slopes, self.weights, self.gains = [], [], []
        self.guard, self.guarded, self.curves = guard, 0, 0

    def add(self, image, mask, lut, out, block=64):
        """image, out: (3, H, W) in 0..1 (the input and the harmonised picture); mask (1, H, W);
        lut: (3, N) the applied curves."""
        n = lut.shape[-1]
        hist = foreground_histogram(image, mask, n)
        self.slopes.append(local_slopes(lut.float()).flatten())
        steepest = float((lut[:, 1:] - lut[:, :-1]).max()) * (n - 1)
        self.guarded += steepest > self.guard * 1.0001      # harmonize --max-slope would change these curves
        self.curves += 1
        self.weights.append(hist.flatten())
        self.add_noise(image, mask, out, block)

    def add_noise(self, image, mask, out, block=64):
        """The noise gain alone, of any output over its input (e.g. the real photo over a composite)."""
        self.gains.append(block_gains(image, out, mask, block))

    def slope_p99(self):
        return weighted_quantile(torch.cat(self.slopes), torch.cat(self.weights), 0.99)

    def noise_gain_p90(self):
        g = torch.cat(self.gains)
        return float(torch.quantile(g.double(), 0.9)) if len(g) else float("nan")

    def guard_share(self):
        """The share of the curves that the render-time guard (--max-slope, default 4) would cap."""
        return self.guarded / max(1, self.curves)

    def blocks(self):
        return sum(len(g) for g in self.gains)
