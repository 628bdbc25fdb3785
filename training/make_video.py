"""Video clips with ground truth, for measuring harmonization over time (and for the samples).

A clip is one or more shots. Each shot films a real photo with a moving camera (pan, zoom and, for
hand-held shots, jitter); an object-like mask (a photographic stamp's silhouette) moves and deforms
over it; the masked region is recoloured the way the training composites are (data.recolour), by a
transform that stays fixed for the shot or drifts slowly from one transform to another. The ground
truth is the filmed photo itself, with a little sensor noise. A new shot means a new photo and a new
recolouring: a cut.

Each clip is written, lossless, as NAME/composite.mkv, NAME/mask.mkv and NAME/real.mkv (FFV1), plus
NAME/shots.txt (the first frame of each shot).

    python3 make_video.py OUT_DIR             # the evaluation set (validation photos only)
"""
import argparse
import math
import os
import random
import subprocess
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

import data


@dataclass
class Shot:
    photo: int                  # index into the photo list
    frames: int
    motion: str = "pan"         # "static", "pan" or "handheld"
    drift: bool = False         # recolouring drifts from one transform to another over the shot
    seed: int = 0


@dataclass
class ClipSpec:
    name: str
    shots: list = field(default_factory=list)
    width: int = 640
    height: int = 360
    fps: int = 25
    noise: float = 1.5 / 255    # sensor noise of the filmed photo (the ground truth has it too)


# The evaluation set: fixed seeds, validation photos only (never seen in training).
EVAL_CLIPS = [
    ClipSpec("static", [Shot(0, 75, "static", seed=1)]),
    ClipSpec("pan-drift", [Shot(1, 75, "pan", drift=True, seed=2)]),
    ClipSpec("handheld-cut", [Shot(2, 50, "handheld", seed=3), Shot(3, 50, "handheld", seed=4)]),
    ClipSpec("three-shots", [Shot(4, 30, "pan", seed=5), Shot(5, 30, "handheld", drift=True, seed=6), Shot(6, 30, "static", seed=7)]),
]


def warp(img, theta, out_hw):
    """Bilinear sample of `img` (C, H, W) at out_hw, `theta` mapping output normalised coordinates
    to input ones (align_corners=False); outside the input is 0."""
    theta = torch.tensor(theta, dtype=torch.float32).unsqueeze(0)
    grid = F.affine_grid(theta, (1, img.shape[0], *out_hw), align_corners=False)
    return F.grid_sample(img.unsqueeze(0), grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]


def affine_crop(img, centre, size, out_hw, angle=0.0):
    """`img` (3 or 1, H, W) seen through a rotated window (centre, size in pixels), at out_hw."""
    _, H, W = img.shape
    cx, cy = centre
    sw, sh = size
    c, s = math.cos(angle), math.sin(angle)
    return warp(img, [[c * sw / W, -s * sh / W, 2 * cx / W - 1], [s * sw / H, c * sh / H, 2 * cy / H - 1]], out_hw)


def camera(shot: Shot, photo, t, out_w, out_h, rng):
    """The shot's view of the photo at frame t: a window that pans, zooms and shakes."""
    _, H, W = photo.shape
    aspect = out_w / out_h
    base_h = min(H, W / aspect) * rng["scale"]
    u = t / max(1, shot.frames - 1)
    if shot.motion == "static":
        cx, cy, zoom, jx, jy = rng["cx"], rng["cy"], 1.0, 0.0, 0.0
    else:
        cx = rng["cx"] + rng["dx"] * (u - 0.5) * W
        cy = rng["cy"] + rng["dy"] * (u - 0.5) * H
        zoom = 1 + rng["dz"] * (u - 0.5)
        jx = jy = 0.0
        if shot.motion == "handheld":
            jx = base_h * 0.012 * (math.sin(t * 0.9 + 1) + 0.6 * math.sin(t * 2.3))
            jy = base_h * 0.012 * (math.sin(t * 1.3 + 2) + 0.6 * math.sin(t * 2.9 + 1))
    h = base_h * zoom
    w = h * aspect
    cx = min(max(cx + jx, w / 2), W - w / 2)
    cy = min(max(cy + jy, h / 2), H - h / 2)
    return affine_crop(photo, (cx, cy), (w, h), (out_h, out_w))


def object_mask(stamp, t, frames, out_w, out_h, rng):
    """The stamp's silhouette moving along a path, breathing and swaying a little."""
    u = t / max(1, frames - 1)
    cx = out_w * (rng["ox"] + rng["odx"] * (u - 0.5))
    cy = out_h * (rng["oy"] + 0.03 * math.sin(2 * math.pi * u * 1.5))
    side = out_h * rng["osize"]
    sa = stamp.shape[1] / stamp.shape[0]
    sx = 1 + 0.06 * math.sin(t * 0.35)                       # deformation: a slow horizontal breathing
    size = (side * sa * sx, side)
    # Each output pixel, relative to the centre and rotated back, in the stamp's normalised coords.
    angle = 0.08 * math.sin(t * 0.2)
    c, s = math.cos(angle), math.sin(angle)
    ex, ey = out_w / 2 - cx, out_h / 2 - cy
    m = warp(stamp.unsqueeze(0), [[c * out_w / size[0], s * out_h / size[0], (c * ex + s * ey) / (size[0] / 2)],
                                  [-s * out_w / size[1], c * out_h / size[1], (-s * ex + c * ey) / (size[1] / 2)]], (out_h, out_w))
    return F.avg_pool2d(m.unsqueeze(0), 3, stride=1, padding=1, count_include_pad=False)[0].clamp(0, 1)


def recoloured(x, m, reference, seed):
    """data.recolour with its random choices fixed by `seed` (the same transform on every frame)."""
    state = random.getstate()
    random.seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        y = data.recolour(x, m, reference)
    random.setstate(state)
    return y


class Writer:
    """Raw frames piped into `ffmpeg` as a lossless FFV1 clip."""

    def __init__(self, path, w, h, fps, grey=False):
        fmt = "gray" if grey else "rgb24"
        self.p = subprocess.Popen(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", fmt,
                                   "-s", f"{w}x{h}", "-r", str(fps), "-i", "-", "-c:v", "ffv1",
                                   "-pix_fmt", "gray" if grey else "bgr0", path], stdin=subprocess.PIPE)

    def write(self, x):
        self.p.stdin.write((x.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).contiguous().numpy().tobytes())

    def close(self):
        self.p.stdin.close()
        if self.p.wait() != 0:
            raise RuntimeError("ffmpeg failed")


def make_clip(spec: ClipSpec, photos, stamps, out_dir):
    """Writes one clip; `photos` are (3, H, W) float tensors, `stamps` float alpha masks."""
    d = os.path.join(out_dir, spec.name)
    os.makedirs(d, exist_ok=True)
    W, H = spec.width, spec.height
    writers = {k: Writer(os.path.join(d, f"{k}.mkv"), W, H, spec.fps, grey=(k == "mask")) for k in ("composite", "mask", "real")}
    starts, t0 = [], 0
    for shot in spec.shots:
        starts.append(t0)
        r = random.Random(shot.seed)
        cam = {"scale": r.uniform(0.55, 0.8), "cx": 0, "cy": 0, "dx": r.uniform(-0.25, 0.25), "dy": r.uniform(-0.08, 0.08),
               "dz": r.uniform(-0.25, 0.25)}
        photo = photos[shot.photo % len(photos)]
        cam["cx"], cam["cy"] = photo.shape[2] / 2, photo.shape[1] / 2
        obj = {"ox": r.uniform(0.35, 0.65), "oy": r.uniform(0.5, 0.65), "odx": r.uniform(-0.3, 0.3), "osize": r.uniform(0.45, 0.75)}
        stamp = stamps[r.randrange(len(stamps))]
        reference = photos[(shot.photo + 3) % len(photos)]
        reference = F.interpolate(reference.unsqueeze(0), size=(256, 256), mode="bilinear", antialias=True, align_corners=False)[0]
        seed_a, seed_b = r.randrange(1 << 30), r.randrange(1 << 30)
        gen = torch.Generator().manual_seed(shot.seed)
        for t in range(shot.frames):
            real = camera(shot, photo, t, W, H, cam)
            real = (real + torch.randn(real.shape, generator=gen) * spec.noise).clamp(0, 1)
            real = (real * 255).round() / 255
            m = object_mask(stamp, t, shot.frames, W, H, obj)
            y = recoloured(real, m, reference, seed_a)
            if shot.drift:
                s = t / max(1, shot.frames - 1)
                y = (1 - s) * y + s * recoloured(real, m, reference, seed_b)
            comp = y * m + real * (1 - m)
            writers["composite"].write(comp)
            writers["mask"].write(m)
            writers["real"].write(real)
        t0 += shot.frames
    for w in writers.values():
        w.close()
    with open(os.path.join(d, "shots.txt"), "w") as f:
        f.write("\n".join(map(str, starts)) + "\n")
    return d


def load_photos(paths, long_side=1600):
    return [data.load_rgb(p, long_side).float() / 255 for p in paths]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    args = ap.parse_args()
    _, val = data.split(data.DataConfig())
    photos, stamps = load_photos(val), data.load_stamps()
    for spec in EVAL_CLIPS:
        print(make_clip(spec, photos, stamps, args.out))


if __name__ == "__main__":
    main()
