"""Makes the small media in samples/ (run once; the outputs are committed, see samples/README.md).

- clip.mp4 + clip-mask.mp4: a 4-second 640x360 composited clip (two shots with a cut, moving
  camera, a moving object-shaped region recoloured to disagree with its scene) and its mask clip;
- alpha/0001.png...: 12 frames of a composite at 320x180 whose alpha channel is the mask;
- still.jpg + still-mask.png: one composite and its mask;
- layers/fg.png (a photographic cut-out with alpha) and layers/bg.jpg (a scene), for layers mode.

Only validation photos (never trained on) with licences that allow redistribution with attribution.

    python3 make_samples.py ../samples
"""
import argparse
import os
import random
import subprocess
import tempfile

import torch
import torch.nn.functional as F
from PIL import Image

import data
import make_video

PICOS = "/usr/share/backgrounds/picosdeeuropa_by_Aitzol_Berasategi.jpg"     # CC-BY-4.0
MAPLE = os.path.join(data.HERE, "cache", "edj", "Red-Maple.png")               # BSD-2-clause (enlightenment-data)
BRIDGE = "/usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg"             # CC-BY-SA-4.0
STILL_SHAPE = "animals/mammals/bears/european-bear.png"                      # its silhouette only
CUTOUT = "animals/mammals/bovines/gnu-stand.png"                              # tuxpaint-stamps-default, GPL-2+


def save(x, path, alpha=None, quality=None):
    rgb = (x.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).contiguous().numpy()
    im = Image.fromarray(rgb)
    if alpha is not None:
        im.putalpha(Image.fromarray((alpha[0].clamp(0, 1) * 255).round().byte().numpy()))
    im.save(path, **({"quality": quality} if quality else {}))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    args = ap.parse_args()
    os.makedirs(os.path.join(args.out, "alpha"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "layers"), exist_ok=True)
    photos = make_video.load_photos([PICOS, MAPLE, BRIDGE])
    stamps = data.load_stamps()

    # The clip: two shots, written lossless to a temporary folder, then encoded small.
    spec = make_video.ClipSpec("clip", [make_video.Shot(0, 50, "handheld", seed=11), make_video.Shot(1, 50, "pan", drift=True, seed=12)])
    with tempfile.TemporaryDirectory() as tmp:
        d = make_video.make_clip(spec, photos, stamps, tmp)
        x264 = ["-c:v", "libx264", "-preset", "slow", "-pix_fmt", "yuv420p", "-movflags", "+faststart"]
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", os.path.join(d, "composite.mkv"), *x264, "-crf", "22",
                        os.path.join(args.out, "clip.mp4")], check=True)
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", os.path.join(d, "mask.mkv"), *x264, "-crf", "16",
                        os.path.join(args.out, "clip-mask.mp4")], check=True)

        # The png sequence with alpha: a third shot at 320x180, the mask in the alpha channel.
        small = make_video.ClipSpec("alpha", [make_video.Shot(2, 12, "pan", seed=13)], width=320, height=180)
        d = make_video.make_clip(small, photos, stamps, tmp)
        for name in ("composite", "mask"):
            subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", os.path.join(d, f"{name}.mkv"),
                            os.path.join(tmp, f"{name}_%04d.png")], check=True)
        for i in range(1, 13):
            comp = Image.open(os.path.join(tmp, f"composite_{i:04d}.png")).convert("RGB")
            comp.putalpha(Image.open(os.path.join(tmp, f"mask_{i:04d}.png")).convert("L"))
            comp.save(os.path.join(args.out, "alpha", f"{i:04d}.png"), optimize=True)

    # The still: one frame of another view, recoloured as the training composites are.
    random.seed(14)
    torch.manual_seed(14)
    cam = {"scale": 0.7, "cx": photos[0].shape[2] * 0.45, "cy": photos[0].shape[1] * 0.5, "dx": 0, "dy": 0, "dz": 0}
    real = make_video.camera(make_video.Shot(0, 1, "static"), photos[0], 0, 960, 640, cam)
    names = [n.strip() for n in open(os.path.join(data.HERE, "lists", "tuxpaint-photo-stamps.txt")) if n.strip()]
    m = make_video.object_mask(stamps[names.index(STILL_SHAPE)], 0, 1, 960, 640, {"ox": 0.42, "oy": 0.6, "odx": 0, "osize": 0.5})
    # A clearly visible disagreement: the strongest of a few seeded recolourings.
    seed = max(range(15, 31), key=lambda k: float(((make_video.recoloured(real, m, photos[2], k) - real).abs() * m).sum()))
    comp = make_video.recoloured(real, m, photos[2], seed) * m + real * (1 - m)
    save(comp, os.path.join(args.out, "still.jpg"), quality=92)
    save(m.expand(3, -1, -1), os.path.join(args.out, "still-mask.png"))

    # Layers: a photographic cut-out (with its alpha) and a scene to paste it on.
    cutout = Image.open(os.path.join(data.STAMPS, CUTOUT)).convert("RGBA")
    cutout.thumbnail((400, 400))
    canvas = Image.new("RGBA", (960, 640), (0, 0, 0, 0))
    canvas.paste(cutout, (280, 640 - cutout.height - 40))
    canvas.save(os.path.join(args.out, "layers", "fg.png"), optimize=True)
    bg = make_video.camera(make_video.Shot(0, 1, "static"), photos[1], 0, 960, 640,
                           {"scale": 0.8, "cx": photos[1].shape[2] / 2, "cy": photos[1].shape[1] / 2, "dx": 0, "dy": 0, "dz": 0})
    save(bg, os.path.join(args.out, "layers", "bg.jpg"), quality=90)
    print(f"samples written to {args.out}")


if __name__ == "__main__":
    main()
