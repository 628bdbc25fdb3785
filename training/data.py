"""Synthetic composites from packaged photos, made the way iHarmony4 was: take a real photo and an
object-like mask, recolour only the masked region, and ask the network to recover the original.

Everything is pointwise or per-region on a full-size crop (long side <= `work_size`); the thumbnails
then come from `model.prepare_thumbnails`, the one preparation the engine uses too.
"""
import json
import math
import os
import random
import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from PIL import Image

import more_photos as more_photos_list
import person_masks
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
    weak_share: float = 0.0        # recolourings blended back toward the original (strength 0.1..0.6)
    identity_share: float = 0.0    # foregrounds left as they are: the network must learn to leave those alone
    region_share: float = 0.0      # masks that follow a colour region of the photo itself (see region_mask)
    val_every: int = 8             # every 8th photo (sorted) is held out for validation
    pack: str = ""                 # read photos and stamps from a pack_data.py folder instead
    more_photos: int = 0           # 1: also the 166 photos of lists/more-photos.tsv (people among them)
    person_share: float = 0.0      # on a photo with a person mask, the person is the foreground this often
    val_photos: str = "old"        # validation sets: which held-out photos (old | more | people)
    bright_share: float = 0.0      # grainy foregrounds brightened until their highlights clip (see brighten)


def override(cfg: DataConfig, items):
    """Applies command-line FIELD=VALUE overrides (`--data`) to a DataConfig, in place."""
    for item in items:
        key, value = item.split("=", 1)
        setattr(cfg, key, type(getattr(cfg, key))(value))
    return cfg


# Validation sets: fixed here, so they stay the same whatever the training recipe's defaults become.
VALIDATION_SETS = {
    "main": DataConfig(weak_share=0.0, identity_share=0.0, region_share=0.0),       # iHarmony4-strength recolourings
    "near-right": DataConfig(weak_share=0.8, identity_share=0.2, region_share=0.0), # weak or none: does it hold back?
    "regions": DataConfig(weak_share=0.0, identity_share=0.0, region_share=1.0),    # masks on colour regions
    "regions-near-right": DataConfig(weak_share=0.8, identity_share=0.2, region_share=1.0),
    # The held-out photos of more-photos.tsv (people, streets, indoors, animals, monuments)...
    "more": DataConfig(weak_share=0.0, identity_share=0.0, region_share=0.3, val_photos="more"),
    # ...and those with a person mask, the person recoloured: the case our users have most.
    "people": DataConfig(weak_share=0.0, identity_share=0.0, person_share=1.0, val_photos="people"),
    # Grainy foregrounds brightened until they clip, to be darkened back: the bright clip's case
    # (noise_clip.py), where a darkening curve that climbs back at the top turns grain into blotches.
    "bright": DataConfig(weak_share=0.0, identity_share=0.0, region_share=0.3, bright_share=1.0, val_photos="more"),
}


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


def packed_name(i, path):
    """Names in a pack: the index in the sorted list keeps same-named files (plasma's 2560x1600.jpg) apart."""
    return f"{i:03d}-" + os.path.splitext(os.path.basename(path))[0] + ".jpg"


def more_photos(cfg: DataConfig):
    """[(path, group, people)] of lists/more-photos.tsv as more_photos.py caches them. Twins of one
    scene (aloeL/aloeR, leuvenA/B, bar55/bar55_2, grand_canyon_1..3) share a group."""
    out = []
    for e in more_photos_list.entries():
        stem = os.path.splitext(e.name)[0]
        group = re.sub(r"(_\d+|_original|_modified|[LRAB]|\d+)$", "", stem) if e.package in ("kphotoalbum", "opencv-doc") else stem
        out.append((os.path.join(cfg.cache, "more", e.name), group, e.people))
    return out


def more_split(cfg: DataConfig):
    """(train, val) of the more photos, by group: every 3rd group with people and every 8th of the
    others is held out, so people, streets and indoor scenes are in both."""
    photos = more_photos(cfg)
    groups = sorted({g for _, g, _ in photos})
    people = sorted({g for _, g, p in photos if p})
    held = {g for i, g in enumerate(people) if i % 3 == 1} | {g for i, g in enumerate(g for g in groups if g not in people) if i % cfg.val_every == 0}
    return [p for p, g, _ in photos if g not in held], [p for p, g, _ in photos if g in held]


def split(cfg: DataConfig):
    """(train, val) photo paths: validation photos never appear in training. The more photos come
    after the old ones, so the old ones keep their places. From a pack, only the training photos
    exist, under the same names, in the same order."""
    paths = photo_paths(cfg)
    val = [p for i, p in enumerate(paths) if i % cfg.val_every == 0]
    train = [p for p in paths if p not in val]
    if cfg.more_photos:
        more_train, more_val = more_split(cfg)
        train, val = train + more_train, val + more_val
    if cfg.pack:
        return [os.path.join(cfg.pack, "photos", packed_name(i, p)) for i, p in enumerate(train)], []
    return train, val


def validation_photos(name):
    """The held-out photos of validation set `name`: the old photos' (the four original sets, whose
    figures stay comparable across models), the more photos', or those with a usable person mask."""
    cfg = VALIDATION_SETS[name]
    if cfg.val_photos == "old":
        return split(DataConfig())[1]
    _, val = more_split(cfg)
    return val if cfg.val_photos == "more" else [p for p in val if person_mask_path(p) is not None]


def person_mask_path(photo, pack=""):
    """The photo's person mask when person_masks.py found a usable one (a pack carries them as
    person-masks/NAME.png beside photos/NAME.jpg), else None."""
    if pack:
        m = os.path.join(pack, "person-masks", os.path.splitext(os.path.basename(photo))[0] + ".png")
        return m if os.path.exists(m) else None
    folder = os.path.join(os.path.dirname(os.path.dirname(photo)), "person-masks")
    scores = _person_scores(folder)
    name = os.path.basename(photo)
    return os.path.join(folder, name) if name in scores and person_masks.usable(scores[name]) else None


_scores = {}


def _person_scores(folder):
    if folder not in _scores:
        path = os.path.join(folder, "scores.json")
        _scores[folder] = json.load(open(path)) if os.path.exists(path) else {}
    return _scores[folder]


def open_photo(path, long_side=None):
    """A photo as a PIL RGB image, shrunk (Lanczos) to at most long_side."""
    im = Image.open(path).convert("RGB")
    if long_side and max(im.size) > long_side:
        s = long_side / max(im.size)
        im = im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS)
    return im


def load_rgb(path, long_side=None):
    im = open_photo(path, long_side)
    return torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).view(im.height, im.width, 3).permute(2, 0, 1).clone()


def stamp_names():
    return [line.strip() for line in open(os.path.join(HERE, "lists", "tuxpaint-photo-stamps.txt")) if line.strip()]


def stamp_path(i, name, pack=""):
    """Where the i-th listed stamp is: in tuxpaint's folder, or in a pack under its index."""
    return os.path.join(pack, "stamps", f"{i:03d}.png") if pack else os.path.join(STAMPS, name)


def stamp_alpha(path):
    return Image.open(path).convert("RGBA").getchannel("A")


def load_stamps(pack=""):
    """Alpha channels of the photographic stamps, as float masks."""
    out = []
    for i, name in enumerate(stamp_names()):
        a = stamp_alpha(stamp_path(i, name, pack))
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


def grain(x, rng):
    """Film or sensor grain: Gaussian, 1 to 4 levels (8-bit) per pixel, partly shared by the channels."""
    sigma = rng.uniform(1, 4) / 255
    gen = torch.Generator().manual_seed(rng.randrange(2 ** 31))
    shared = torch.randn(1, *x.shape[1:], generator=gen)
    return (x + sigma * (0.6 * shared + 0.8 * torch.randn(x.shape, generator=gen))).clamp(0, 1)


def brighten(x, rng):
    """+0.5 to +1.5 stops in linear light, saturation up to 1.4x: the highlights clip, as on a bright
    costume lit for a day scene. Undoing it is a smooth darkening whose top ends below 1 (the clipped
    levels held all the brighter originals), never a curve that climbs back to 1."""
    y = linear_to_srgb(srgb_to_linear(x) * 2 ** rng.uniform(0.5, 1.5))
    l = luma(y)
    return (l + (y - l) * rng.uniform(1.0, 1.4)).clamp(0, 1)


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


def connected_components(on):
    """Labels of the 4-connected components of a small boolean map (0 off), by max propagation."""
    h, w = on.shape
    label = torch.where(on, torch.arange(1, h * w + 1, dtype=torch.float32).view(h, w), torch.zeros(()))
    while True:
        p = F.pad(label, (1, 1, 1, 1))
        cross = torch.stack([p[:-2, 1:-1], p[2:, 1:-1], p[1:-1, :-2], p[1:-1, 2:], label]).amax(0)
        nxt = torch.where(on, cross, label)
        if torch.equal(nxt, label):
            return label
        label = nxt


def region_mask(image, cfg: DataConfig, size=96):
    """A mask that follows a colour region of the photo itself: one connected component of a k-means
    clustering (Lab and position) of a small copy, smoothed, at full size. With shapes placed at random
    the true foreground is a piece of the same scene as its surroundings, and a network learns to pull
    every foreground toward its background's colours; real objects differ from their surroundings,
    and these regions do too. None when no component has a foreground-like size."""
    _, h, w = image.shape
    s = size / max(h, w)
    sh, sw = max(8, round(h * s)), max(8, round(w * s))
    small = F.interpolate(image.unsqueeze(0), size=(sh, sw), mode="bilinear", antialias=True, align_corners=False)[0]
    lab = rgb_to_lab(small)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, sh), torch.linspace(0, 1, sw), indexing="ij")
    feats = torch.cat([lab / torch.tensor([100.0, 60.0, 60.0]).view(3, 1, 1), 0.5 * torch.stack([yy, xx])]).view(5, -1).T
    k = random.randint(3, 8)
    centres = feats[torch.randperm(feats.shape[0])[:k]]
    for _ in range(8):
        assign = torch.cdist(feats, centres).argmin(1)
        for j in range(k):
            if bool((assign == j).any()):
                centres[j] = feats[assign == j].mean(0)
    assign = assign.view(sh, sw)
    for j in random.sample(range(k), k):
        on = assign == j
        # close small gaps and drop specks, so the region reads as one object
        on = -F.max_pool2d(-F.max_pool2d(on.float().view(1, 1, sh, sw), 3, 1, 1), 3, 1, 1)[0, 0] > 0.5
        label = connected_components(on)
        ids, counts = label[label > 0].unique(return_counts=True)
        share = counts.float() / (sh * sw)
        fits = ((share >= cfg.area_min) & (share <= cfg.area_max)).nonzero().flatten().tolist()
        if fits:
            region = (label == ids[random.choice(fits)]).float().view(1, 1, sh, sw)
            region = F.avg_pool2d(region, 3, 1, 1, count_include_pad=False)      # rounder than the grid's steps
            full = F.interpolate(region, size=(h, w), mode="bicubic", align_corners=False)[0, 0]
            return (full > 0.5).float()
    return None


def place_mask(stamps, h, w, cfg: DataConfig, image=None):
    """An object-like mask covering cfg.area_min..area_max of the frame."""
    if image is not None and cfg.region_share and random.random() < cfg.region_share:
        m = region_mask(image, cfg)
        if m is not None:
            return feather(m, cfg)
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
    return feather((m > 0.5).float(), cfg)


def feather(m, cfg: DataConfig):
    h, w = m.shape
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
        self.stamps = load_stamps(cfg.pack)
        # Person masks, at their photo's size: the foreground of person samples, and (with the more
        # photos) person silhouettes among the stamp shapes.
        self.people = {}
        for i, p in enumerate(paths):
            mp = person_mask_path(p, cfg.pack) if (cfg.person_share or cfg.more_photos) else None
            if mp:
                _, h, w = self.photos[i].shape
                a = Image.open(mp).convert("L").resize((w, h), Image.BILINEAR)
                self.people[i] = torch.frombuffer(bytearray(a.tobytes()), dtype=torch.uint8).view(h, w).float() / 255
        if cfg.more_photos:
            for a in self.people.values():
                on = a > 0.5
                rows, cols = on.any(1).nonzero().flatten(), on.any(0).nonzero().flatten()
                cut = a[int(rows[0]):int(rows[-1]) + 1, int(cols[0]):int(cols[-1]) + 1]
                s = 400 / max(cut.shape)
                self.stamps.append(F.interpolate(cut.view(1, 1, *cut.shape), scale_factor=min(1.0, s), mode="bilinear",
                                                 antialias=True, align_corners=False)[0, 0])

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

    def person(self, i):
        """The whole photo and its person mask at work size (people are rarely whole in a crop)."""
        c = torch.cat([self.photos[i].float() / 255, self.people[i].unsqueeze(0)])
        if self.rng.random() < 0.5:
            c = c.flip(2)
        s = self.cfg.work_size / max(c.shape[1:])
        if s < 1:
            c = F.interpolate(c.unsqueeze(0), scale_factor=s, mode="bilinear", antialias=True, align_corners=False)[0]
        return c[:3].clamp(0, 1), feather((c[3] > 0.5).float(), self.cfg)

    def sample(self):
        random.seed(self.rng.random())             # the transforms draw from `random`
        i = self.rng.randrange(len(self.photos))   # (the same draw as rng.choice: old streams unchanged)
        if i in self.people and self.cfg.person_share and self.rng.random() < self.cfg.person_share:
            real, m = self.person(i)
        else:
            real = self.crop(self.photos[i])
            m = None
        reference = self.crop(self.rng.choice(self.photos))
        _, h, w = real.shape
        if m is None:
            m = place_mask(self.stamps, h, w, self.cfg, real)
        # (No draw when bright_share is 0, so the streams of the older configurations stay as they were.)
        if self.cfg.bright_share and self.rng.random() < self.cfg.bright_share:
            real = grain(real, self.rng)
            fg = brighten(real, self.rng)
        else:
            fg = recolour(real, m, reference, self.cfg.lab_share)
        # Many real composites are nearly right already; weak and absent recolourings teach restraint.
        # (No draws at all when both shares are 0, so the default stream of samples stays as it was.)
        if self.cfg.identity_share or self.cfg.weak_share:
            u = self.rng.random()
            if u < self.cfg.identity_share:
                fg = real
            elif u < self.cfg.identity_share + self.cfg.weak_share:
                fg = real + self.rng.uniform(0.1, 0.6) * (fg - real)
        comp = fg * m + real * (1 - m)
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
