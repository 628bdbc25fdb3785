"""Synthetic composites from packaged photos, made the way iHarmony4 was: take a real photo and an
object-like mask, recolour only the masked region, and ask the network to recover the original.

Everything is pointwise or per-region on a full-size crop (long side <= `work_size`); the thumbnails
then come from `model.prepare_thumbnails`, the one preparation the engine uses too.
"""
import math
import os
import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image

from model import ModelConfig, prepare_thumbnails, resize

HERE = os.path.dirname(os.path.abspath(__file__))
STAMPS = "/usr/share/tuxpaint/stamps"


@dataclass
class DataConfig:
    cache: str = os.path.join(HERE, "cache")
    work_size: int = 1024          # long side of a scene crop (full-size relative to the 256 thumbnails)
    crop_min: float = 0.4          # crop side as a fraction of the photo's short side: [crop_min, 1]
    area_min: float = 0.03         # foreground area fraction, as iHarmony4's range
    area_max: float = 0.6
    stamp_share: float = 0.6       # masks from stamp silhouettes, the rest random smooth blobs
    feather_share: float = 0.3     # samples whose mask edge is feathered
    lab_share: float = 0.35        # recolourings that start with a Lab transfer from another photo
    val_every: int = 8             # every 8th photo (sorted) is held out for validation


def photo_paths(cfg: DataConfig):
    paths = []
    for line in open(os.path.join(HERE, "lists", "photos.txt")):
        p = line.strip()
        if not p:
            continue
        if p.endswith(".edj"):
            p = os.path.join(cfg.cache, "edj", os.path.basename(p)[:-4] + ".png")
        paths.append(p)
    return sorted(paths)


def split(cfg: DataConfig):
    """(train, val) photo paths: validation photos never appear in training."""
    paths = photo_paths(cfg)
    val = [p for i, p in enumerate(paths) if i % cfg.val_every == 0]
    return [p for p in paths if p not in val], val


def load_rgb(path, long_side=None):
    im = Image.open(path).convert("RGB")
    if long_side and max(im.size) > long_side:
        s = long_side / max(im.size)
        im = im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS)
    return torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).view(im.height, im.width, 3).permute(2, 0, 1).clone()


def load_stamps():
    """Alpha channels of the photographic stamps, as float masks."""
    out = []
    for line in open(os.path.join(HERE, "lists", "tuxpaint-photo-stamps.txt")):
        name = line.strip()
        if name:
            a = Image.open(os.path.join(STAMPS, name)).convert("RGBA").getchannel("A")
            out.append(torch.frombuffer(bytearray(a.tobytes()), dtype=torch.uint8).view(a.height, a.width).float() / 255)
    return out


# ---------------------------------------------------------------------------------------------
# Colour spaces (sRGB <-> CIE Lab, D65), pointwise on (3, H, W) tensors in [0, 1]

def srgb_to_linear(x):
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x):
    x = x.clamp(0, 1)
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp(min=1e-8) ** (1 / 2.4) - 0.055)


_M = torch.tensor([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
_WHITE = torch.tensor([0.9505, 1.0, 1.089])


def rgb_to_lab(x):
    xyz = torch.einsum("ij,jhw->ihw", _M, srgb_to_linear(x)) / _WHITE.view(3, 1, 1)
    f = torch.where(xyz > 0.008856, xyz.clamp(min=1e-8) ** (1 / 3), 7.787 * xyz + 16 / 116)
    return torch.stack([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def lab_to_rgb(lab):
    fy = (lab[0] + 16) / 116
    fx, fz = fy + lab[1] / 500, fy - lab[2] / 200
    f = torch.stack([fx, fy, fz])
    xyz = torch.where(f > 0.2069, f ** 3, (f - 16 / 116) / 7.787) * _WHITE.view(3, 1, 1)
    return linear_to_srgb(torch.einsum("ij,jhw->ihw", torch.linalg.inv(_M), xyz))


# ---------------------------------------------------------------------------------------------
# Recolouring: what makes a composite's foreground disagree with its background

def luma(x):
    return (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]).unsqueeze(0)


def transfer_lab(x, m, reference):
    """Reinhard: the region's Lab mean/std moved to those of another photo (HFlickr/HCOCO style)."""
    lab, ref = rgb_to_lab(x), rgb_to_lab(reference)
    w = m.expand_as(lab)
    n = w.sum((1, 2)).clamp(min=1)
    mu = (lab * w).sum((1, 2)) / n
    sd = (((lab - mu.view(3, 1, 1)) ** 2 * w).sum((1, 2)) / n).sqrt().clamp(min=1e-3)
    rmu, rsd = ref.mean((1, 2)), ref.std((1, 2)).clamp(min=1e-3)
    strength = random.uniform(0.5, 1.0)
    out = (lab - mu.view(3, 1, 1)) * (1 + strength * (rsd / sd - 1)).view(3, 1, 1) + mu.view(3, 1, 1) + strength * (rmu - mu).view(3, 1, 1)
    return lab_to_rgb(out)


def exposure(x):
    """-1.2 to +1.2 stops, in linear light."""
    return linear_to_srgb(srgb_to_linear(x) * 2 ** random.uniform(-1.2, 1.2))


def white_balance(x):
    """Temperature and tint: per-channel gains in linear light."""
    t, g = random.uniform(-0.35, 0.35), random.uniform(-0.15, 0.15)
    gains = torch.tensor([1 + t, 1 + g, 1 - t]).clamp(min=0.3).view(3, 1, 1)
    return linear_to_srgb(srgb_to_linear(x) * gains)


def contrast_curve(x):
    """An S or inverse-S tone curve around a random pivot, or a lift/gain."""
    k = random.uniform(-0.6, 0.8)
    pivot = random.uniform(0.35, 0.65)
    y = pivot + (x - pivot) * (1 + k)
    if random.random() < 0.5:                      # smooth S: blend with a sigmoid
        steep = 4 + 6 * abs(k)
        lo, hi = torch.sigmoid(torch.tensor(-pivot * steep)), torch.sigmoid(torch.tensor((1 - pivot) * steep))
        y = 0.5 * y + 0.5 * (torch.sigmoid((x - pivot) * steep) - lo) / (hi - lo)
    lift, gain = random.uniform(-0.08, 0.1), random.uniform(0.8, 1.15)
    return (y * gain + lift).clamp(0, 1)


def saturation(x):
    l = luma(x)
    return (l + (x - l) * random.uniform(0.3, 1.7)).clamp(0, 1)


def vibrance(x):
    """Saturation that acts more on dull colours."""
    l = luma(x)
    sat = (x.max(0, keepdim=True).values - x.min(0, keepdim=True).values)
    amount = random.uniform(-0.6, 0.9) * (1 - sat)
    return (l + (x - l) * (1 + amount)).clamp(0, 1)


def split_toning(x):
    """Shadows pushed toward one hue, highlights toward another."""
    l = luma(x)
    sh = torch.rand(3).sub(0.5).mul(random.uniform(0.05, 0.25)).view(3, 1, 1)
    hi = torch.rand(3).sub(0.5).mul(random.uniform(0.05, 0.25)).view(3, 1, 1)
    return (x + sh * (1 - l) + hi * l).clamp(0, 1)


def gamma(x):
    return x.clamp(0, 1) ** random.uniform(0.6, 1.6)


def hue_shift(x):
    """A small rotation of the chroma plane in Lab."""
    lab = rgb_to_lab(x)
    a = math.radians(random.uniform(-25, 25))
    c, s = math.cos(a), math.sin(a)
    return lab_to_rgb(torch.stack([lab[0], c * lab[1] - s * lab[2], s * lab[1] + c * lab[2]]))


RETOUCH = [exposure, white_balance, contrast_curve, saturation, vibrance, split_toning, gamma, hue_shift]


def recolour(x, m, reference, lab_share=0.35):
    """One to three transforms, Lab transfer in about a third of the samples (HAdobe5k-style retouch
    otherwise: the region is another edit of the same photo)."""
    ops = random.sample(RETOUCH, random.choice([1, 1, 2, 3]))
    y = transfer_lab(x, m, reference) if random.random() < lab_share else x
    for op in ops:
        y = op(y)
    return y


# ---------------------------------------------------------------------------------------------
# Masks

def blob_mask(h, w):
    """A random smooth blob: thresholded low-frequency noise."""
    g = torch.randn(1, 1, random.randint(3, 6), random.randint(3, 6))
    field = F.interpolate(g, size=(h, w), mode="bicubic", align_corners=False)[0, 0]
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    field = field - 1.5 * (xx ** 2 + yy ** 2)      # keep it one central object
    return (field > field.flatten().kthvalue(int(field.numel() * 0.8)).values).float()


def place_mask(stamps, h, w, cfg: DataConfig):
    """An object-like mask covering cfg.area_min..area_max of the frame."""
    target = math.exp(random.uniform(math.log(cfg.area_min), math.log(cfg.area_max)))
    if random.random() < cfg.stamp_share:
        a = random.choice(stamps)
        if random.random() < 0.5:
            a = a.flip(1)
    else:
        a = blob_mask(random.randint(200, 400), random.randint(200, 400))
    cover = float(a.mean())
    scale = math.sqrt(target * h * w / max(cover * a.numel(), 1))
    sh, sw = max(4, min(h, round(a.shape[0] * scale))), max(4, min(w, round(a.shape[1] * scale)))
    a = F.interpolate(a.view(1, 1, *a.shape), size=(sh, sw), mode="bilinear", antialias=True, align_corners=False)[0, 0]
    y, x = random.randint(0, h - sh), random.randint(0, w - sw)
    m = torch.zeros(h, w)
    m[y:y + sh, x:x + sw] = a
    m = (m > 0.5).float()
    if random.random() < cfg.feather_share:        # a soft edge, as a matting model gives
        k = random.choice([3, 5, 9, 15])
        m = F.avg_pool2d(m.view(1, 1, h, w), k, stride=1, padding=k // 2, count_include_pad=False)[0, 0]
    return m.unsqueeze(0)


# ---------------------------------------------------------------------------------------------
# Samples

class Composites:
    """Endless random composites from a set of photos; `sample()` gives the model's four thumbnail
    inputs, and the 256x256 composite, mask and real image the loss compares."""

    def __init__(self, paths, cfg: DataConfig = DataConfig(), model_cfg: ModelConfig = ModelConfig(), seed=None):
        self.cfg, self.model_cfg = cfg, model_cfg
        self.rng = random.Random(seed)
        # Photos stay decoded in memory (64 photos at <= 2x work size are ~1.5 GB).
        self.photos = [load_rgb(p, 2 * cfg.work_size) for p in paths]
        self.stamps = load_stamps()

    def crop(self, photo):
        _, H, W = photo.shape
        side = self.rng.uniform(self.cfg.crop_min, 1.0) * min(H, W)
        aspect = self.rng.choice([1.0, 4 / 3, 3 / 2, 16 / 9])
        if self.rng.random() < 0.3:
            aspect = 1 / aspect
        ch, cw = int(min(H, side)), int(min(W, side * aspect))
        y, x = self.rng.randint(0, H - ch), self.rng.randint(0, W - cw)
        c = photo[:, y:y + ch, x:x + cw].float() / 255
        if self.rng.random() < 0.5:
            c = c.flip(2)
        s = self.cfg.work_size / max(ch, cw)
        if s < 1:
            c = F.interpolate(c.unsqueeze(0), scale_factor=s, mode="bilinear", antialias=True, align_corners=False)[0]
        return c.clamp(0, 1)

    def sample(self):
        random.seed(self.rng.random())             # the transforms draw from `random`
        real = self.crop(self.rng.choice(self.photos))
        reference = self.crop(self.rng.choice(self.photos))
        _, h, w = real.shape
        m = place_mask(self.stamps, h, w, self.cfg)
        comp = recolour(real, m, reference, self.cfg.lab_share) * m + real * (1 - m)
        comp = (comp * 255).round() / 255          # composites are 8-bit pictures
        thumbs = prepare_thumbnails(comp.unsqueeze(0), m.unsqueeze(0), self.model_cfg)
        S = self.model_cfg.thumbnail
        return {
            "fg_img": thumbs[0][0], "fg_mask": thumbs[1][0], "bg_img": thumbs[2][0], "bg_mask": thumbs[3][0],
            "real": resize(real.unsqueeze(0), S)[0],   # the composite at 256 is bg_img
        }


def batch(source: Composites, n: int):
    items = [source.sample() for _ in range(n)]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}
