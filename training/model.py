"""S2CRNet, the one definition of the architecture (PyTorch reference for the Swift engine).

A small CNN looks at two 256x256 thumbnails, the foreground crop and the background, and predicts
three colour curves of `pieces` linear pieces each. The curves are resolution-free: the Swift engine
renders them as lookup tables at native resolution. Everything the engine must reproduce lives here:
the backbone (SqueezeNet-1.1 features[:12], torchvision's layout), the curve heads, the curve formula
and the thumbnail preparation.
"""
from dataclasses import dataclass, field, asdict

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

LABELS = ("person", "animal", "food", "reserved", "other")  # one-hot index order of the semantic variant


@dataclass
class ModelConfig:
    variant: str = "plain"          # plain | cascaded | semantic
    pieces: int = 64                # linear pieces per curve
    thumbnail: int = 256            # thumbnail side
    label_dim: int = 16             # semantic variant: size of the label embedding
    box_padding: float = 0.05       # foreground box grows by this fraction of its size on each side
    free_end: bool = True           # the head also predicts each curve's end value y(1) (format 2)
    slope_bound: float = 0.0        # > 0: every piece's slope stays below this by construction (format 3)
    slope_knee: float = 1.0         # slopes up to here pass unchanged; above, they bend smoothly to the bound
    mean: tuple = (0.485, 0.456, 0.406)
    std: tuple = (0.229, 0.224, 0.225)


# ---------------------------------------------------------------------------------------------
# Backbone: SqueezeNet 1.1 features[:12] (512 channels), as torchvision lays it out.

class Fire(nn.Module):
    def __init__(self, inplanes, squeeze, expand1x1, expand3x3):
        super().__init__()
        self.squeeze = nn.Conv2d(inplanes, squeeze, 1)
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, 1)
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, 3, padding=1)

    def forward(self, x):
        x = F.relu(self.squeeze(x))
        return torch.cat([F.relu(self.expand1x1(x)), F.relu(self.expand3x3(x))], 1)


def squeezenet_features():
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, stride=2), nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(64, 16, 64, 64), Fire(128, 16, 64, 64),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(128, 32, 128, 128), Fire(256, 32, 128, 128),
        nn.MaxPool2d(3, 2, ceil_mode=True),
        Fire(256, 48, 192, 192), Fire(384, 48, 192, 192), Fire(384, 64, 256, 256),
    )


FEATURES = 512


# ---------------------------------------------------------------------------------------------
# Curves

END_MAX = 1.25                  # largest end value y(1); the output is clipped to 1 above it


def bound_slopes(d, bound, knee):
    """Format 3: each piece's slope s = K d bent below `bound` by construction, smoothly: s itself up
    to `knee`, above it knee + (bound - knee) tanh((s - knee) / (bound - knee)), which has slope 1 at
    the knee and never exceeds the bound. The curve's end y(1) = sum d comes down with its steep
    pieces. Format 2 bounded the end value but not the pieces: the MSE-best inverse of a clipped
    brightening maps 255 to the mean of the clipped originals, a jump at the top that no data teaches
    away, and grain on those levels came out amplified 3.8x (the bright clip of issue 13)."""
    K = d.shape[-1]
    s = d * K
    span = bound - knee
    bent = knee + span * torch.tanh((s - knee) / span)
    return torch.where(s > knee, bent, s) / K


def curve_parameters(raw, end_raw=None, bound=0.0, knee=1.0):
    """Raw head output -> the curve's piece increments d (B, 3, K), positive: d_i = y((i+1)/K) - y(i/K).

    The piece weights are exp(raw) (zero raw, the initial head, is the identity; the clamp keeps one
    piece from swamping the rest), normalised to sum to the end value y(1). Format 1 fixed y(1) = 1,
    so a curve that darkens had to climb back to 1 in its last pieces: a jump of 10 levels per level
    that turns a bright foreground's grain into blotches. Format 2 predicts y(1) per channel,
    END_MAX * sigmoid(end_raw + log 4): 1 at zero end_raw, so a format 1 model grown into format 2
    starts exactly where it was. Format 3 then bounds each piece's slope (`bound_slopes`)."""
    p = torch.exp(raw.clamp(-8.0, 8.0))
    d = p / p.sum(-1, keepdim=True)
    if end_raw is not None:
        d = d * (END_MAX * torch.sigmoid(end_raw + math.log(4.0))).unsqueeze(-1)
    if bound > 0:
        d = bound_slopes(d, bound, knee)
    return d


def apply_curve(x, d):
    """y(x) = min(1, sum_i clamp(x - i/K, 0, 1/K) * K d[i]), per channel.

    x: (B, 3, H, W) in [0, 1]; d: (B, 3, K) positive increments. The K-term sum equals a prefix sum of
    d plus one gather: with k = floor(x K) and f = x K - k, y = sum_{i<k} d_i + f d_k. Exact and
    differentiable in x and d (a curve is linear in d: the mean of curves is the curve of the mean d)."""
    B, C, H, W = x.shape
    K = d.shape[-1]
    before = torch.cumsum(d, -1) - d                                   # sum_{i<k} d_i
    t = x.clamp(0, 1).reshape(B, C, -1) * K
    k = t.floor().clamp(max=K - 1)
    f = t - k
    k = k.long()
    y = torch.gather(before, 2, k) + f * torch.gather(d, 2, k)
    return y.clamp(max=1).reshape(B, C, H, W)


def slopes(d):
    """Each piece's slope in output levels per input level (1 is the identity's)."""
    return d * d.shape[-1]


def curve_lut(p, size=256):
    """Samples each curve at size evenly spaced inputs 0..1: (B, 3, size)."""
    x = torch.linspace(0, 1, size, dtype=p.dtype, device=p.device).view(1, 1, 1, size).expand(p.shape[0], 3, 1, size)
    return apply_curve(x.contiguous(), p).squeeze(2)


def harmonize(image, mask, p):
    """Applies curves inside the mask and blends: out = curve(img) * m + img * (1 - m)."""
    return apply_curve(image, p) * mask + image * (1 - mask)


# ---------------------------------------------------------------------------------------------
# Thumbnail preparation (the engine reproduces this exactly)

def foreground_box(mask, padding):
    """Bounding box (x0, y0, x1, y1), end-exclusive, of mask >= 0.5 (of mask > 0 when nothing reaches
    0.5), grown by `padding` of its size on each side and clipped to the frame. None for an empty
    mask. A mask that covers the frame gives the whole frame."""
    H, W = mask.shape[-2:]
    m = mask.reshape(H, W)
    on = m >= 0.5
    if not bool(on.any()):
        on = m > 0
        if not bool(on.any()):
            return None
    rows = torch.nonzero(on.any(1)).flatten()
    cols = torch.nonzero(on.any(0)).flatten()
    y0, y1 = int(rows[0]), int(rows[-1]) + 1
    x0, x1 = int(cols[0]), int(cols[-1]) + 1
    py, px = int(round((y1 - y0) * padding)), int(round((x1 - x0) * padding))
    return max(0, x0 - px), max(0, y0 - py), min(W, x1 + px), min(H, y1 + py)


def resize(x, size):
    """Antialiased bilinear (a triangle filter widened by the scale factor when shrinking)."""
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)


def prepare_thumbnails(image, mask, cfg: ModelConfig):
    """image (1, 3, H, W) in [0, 1], mask (1, 1, H, W) in [0, 1] -> the model's four inputs, each
    resized to S x S: (fg_img, fg_mask) from the foreground box, (bg_img, bg_mask) from the whole
    frame. None when the mask is empty (nothing to harmonise). Normalising and masking happen in
    the model (`S2CRNet.forward`)."""
    box = foreground_box(mask, cfg.box_padding)
    if box is None:
        return None
    x0, y0, x1, y1 = box
    S = cfg.thumbnail
    return (resize(image[:, :, y0:y1, x0:x1], S), resize(mask[:, :, y0:y1, x0:x1], S),
            resize(image, S), resize(mask, S))


# ---------------------------------------------------------------------------------------------
# The model

class CurveHead(nn.Module):
    """CRM: p = fc_b(bg) + fc_f(fg) (fg may carry a label embedding), 3 x K positive pieces; with
    free_end also 3 end values, end_b(bg) + end_f(fg); with a slope bound, pieces bent below it.
    Returns the curves' increments (B, 3, K)."""

    def __init__(self, fg_features, pieces, free_end=True, bound=0.0, knee=1.0):
        super().__init__()
        self.pieces, self.bound, self.knee = pieces, bound, knee
        self.fc_b = nn.Linear(FEATURES, 3 * pieces)
        self.fc_f = nn.Linear(fg_features, 3 * pieces)
        for fc in (self.fc_b, self.fc_f):      # start at the identity curve
            nn.init.normal_(fc.weight, std=1e-3)
            nn.init.zeros_(fc.bias)
        if free_end:
            self.end_b = nn.Linear(FEATURES, 3)
            self.end_f = nn.Linear(fg_features, 3)
            for fc in (self.end_b, self.end_f):  # y(1) = 1 to start with
                nn.init.zeros_(fc.weight)
                nn.init.zeros_(fc.bias)

    def forward(self, fg_feat, bg_feat):
        raw = self.fc_b(bg_feat) + self.fc_f(fg_feat)
        end = self.end_b(bg_feat) + self.end_f(fg_feat) if hasattr(self, "end_b") else None
        return curve_parameters(raw.view(-1, 3, self.pieces), end, self.bound, self.knee)


class S2CRNet(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        assert cfg.variant in ("plain", "cascaded", "semantic"), cfg.variant
        self.cfg = cfg
        self.features = squeezenet_features()
        fg_features = FEATURES
        if cfg.variant == "semantic":
            self.label_embedding = nn.Linear(len(LABELS), cfg.label_dim)
            fg_features += cfg.label_dim
        assert cfg.slope_bound == 0 or (cfg.free_end and cfg.slope_bound > cfg.slope_knee >= 1), cfg
        heads = lambda: CurveHead(fg_features, cfg.pieces, cfg.free_end, cfg.slope_bound, cfg.slope_knee)
        self.head = heads()
        if cfg.variant == "cascaded":
            self.head2 = heads()

    def encode(self, x):
        """Backbone and global average pool: (B, 3, S, S) -> (B, 512)."""
        return self.features(x).mean((2, 3))

    def _fg(self, feat, label):
        if self.cfg.variant != "semantic":
            return feat
        onehot = F.one_hot(label, len(LABELS)).to(feat.dtype)
        return torch.cat([feat, self.label_embedding(onehot)], 1)

    def normalize(self, x):
        mean = torch.tensor(self.cfg.mean, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.cfg.std, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std

    def forward(self, fg_img, fg_mask, bg_img, bg_mask, label=None):
        """Thumbnails from `prepare_thumbnails` (B, 3 or 1, S, S), in [0, 1]. The network sees
        norm(fg) * m and norm(bg) * (1 - m). Returns the curves' increments of each stage, [(B, 3, K)]
        (two for the cascaded variant: the second applies to the first one's output).
        label: (B,) class indices for the semantic variant (default 4, other)."""
        B = fg_img.shape[0]
        if label is None:
            label = torch.full((B,), LABELS.index("other"), dtype=torch.long, device=fg_img.device)
        fg = self.normalize(fg_img) * fg_mask
        bg = self.normalize(bg_img) * (1 - bg_mask)
        feats = self.encode(torch.cat([fg, bg], 0))          # fg and bg in one batch
        fg_feat, bg_feat = feats[:B], feats[B:]
        p1 = self.head(self._fg(fg_feat, label), bg_feat)
        if self.cfg.variant != "cascaded":
            return [p1]
        # Stage 2 sees the foreground after stage 1's curves, with the same background features.
        fg2 = self.normalize(apply_curve(fg_img, p1)) * fg_mask
        p2 = self.head2(self._fg(self.encode(fg2), label), bg_feat)
        return [p1, p2]


def compose_luts(ps, size=256):
    """The single lookup table of a cascade: stage curves applied one after the other."""
    x = torch.linspace(0, 1, size, dtype=ps[0].dtype, device=ps[0].device).view(1, 1, 1, size).expand(ps[0].shape[0], 3, 1, size).contiguous()
    for p in ps:
        x = apply_curve(x, p)
    return x.squeeze(2)


def config_dict(cfg: ModelConfig):
    return asdict(cfg)
