"""Scores folders of iHarmony4-style triplets (composite_images/NAME_K_J.jpg, masks/NAME_K.png,
real_images/NAME.jpg) as iHarmony4 does: MSE, PSNR and fMSE at 256x256 (bilinear resize; fMSE is the
squared error summed over the foreground / (3 x foreground area)), per image and mean, for the
composite itself, a Reinhard Lab colour-transfer baseline, given --model the PyTorch model, and given
--harmonize too the Swift command with the same weights (which must agree with PyTorch within 0.5 MSE).
For the model, also the curves' 99th-percentile slope at the foreground's levels and the noise gain
inside the masks (curve_quality, at native size), pooled over the images.

    python3 evaluate.py ../../shared/data/iharmony4-samples --model ../models/harmonize.safetensors \
        --harmonize ../.build/release/harmonize --markdown table.md
"""
import argparse
import math
import os
import subprocess
import tempfile

import torch
from PIL import Image

import curve_quality
import data
from export import load as load_model
from model import LABELS, compose_luts, harmonize, prepare_thumbnails


def load(path, mode="RGB"):
    im = Image.open(path).convert(mode)
    t = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).float() / 255
    return t.view(im.height, im.width, -1).permute(2, 0, 1)


def at256(x):
    """Bilinear resize to 256x256 in 0..255 units, as the benchmark's scripts do."""
    pil = Image.frombytes("RGB" if x.shape[0] == 3 else "L", (x.shape[2], x.shape[1]),
                          bytes((x.clamp(0, 1) * 255).round().byte().permute(1, 2, 0).flatten().tolist()))
    pil = pil.resize((256, 256), Image.BILINEAR)
    return torch.frombuffer(bytearray(pil.tobytes()), dtype=torch.uint8).float().view(256, 256, -1).permute(2, 0, 1)


def scores(out, real, mask):
    o, r, m = at256(out), at256(real), at256(mask) / 255
    err = (o - r) ** 2
    mse = float(err.mean())
    fmse = float((err * m).sum() / (3 * m.sum().clamp(min=1)))
    psnr = 10 * math.log10(255 ** 2 / max(mse, 1e-10))
    return mse, psnr, fmse


def reinhard(comp, mask):
    """The foreground's Lab mean/std matched to the background's."""
    lab = data.rgb_to_lab(comp)
    fg, bg = mask.expand_as(lab), (1 - mask).expand_as(lab)
    def stats(w):
        n = w.sum((1, 2)).clamp(min=1)
        mu = (lab * w).sum((1, 2)) / n
        sd = (((lab - mu.view(3, 1, 1)) ** 2 * w).sum((1, 2)) / n).sqrt().clamp(min=1e-3)
        return mu.view(3, 1, 1), sd.view(3, 1, 1)
    (fm, fs), (bm, bs) = stats(fg), stats(bg)
    out = data.lab_to_rgb((lab - fm) / fs * bs + bm)
    return out * mask + comp * (1 - mask)


@torch.no_grad()
def run_model(model, comp, mask, label):
    """The harmonised picture and the applied curves (3, 256)."""
    thumbs = prepare_thumbnails(comp.unsqueeze(0), mask.unsqueeze(0), model.cfg)
    if thumbs is None:
        return comp, torch.linspace(0, 1, 256).expand(3, 256)
    lab = torch.tensor([LABELS.index(label)]) if label else None
    out = comp.unsqueeze(0)
    ps = model(*thumbs, label=lab)
    for p in ps:
        out = harmonize(out, mask.unsqueeze(0), p)
    return out[0], compose_luts(ps, 256)[0]


def run_command(binary, model_path, comp, mask_path, label):
    """The Swift `harmonize` command on one composite, its output read back. The composite goes in as
    a PNG of the pixels PIL decoded, so that both engines see the same picture (FFmpeg's JPEG decoder
    upsamples chroma differently from libjpeg's, which alone moves MSE by ~1)."""
    with tempfile.TemporaryDirectory() as tmp:
        out, comp_path = os.path.join(tmp, "out.png"), os.path.join(tmp, "composite.png")
        Image.fromarray((comp * 255).round().byte().permute(1, 2, 0).contiguous().numpy()).save(comp_path)
        cmd = [binary, comp_path, "-m", mask_path, "-o", out, "--model", model_path, "-q"] + (["--label", label] if label else [])
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"harmonize failed on {comp_path}: {p.stderr.strip()}")
        return load(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="+")
    ap.add_argument("--model", help="safetensors weights (training/export.py)")
    ap.add_argument("--harmonize", help="the built harmonize command, run with the same weights")
    ap.add_argument("--markdown", help="also write the per-image table to this file")
    args = ap.parse_args()
    model = load_model(args.model) if args.model else None
    methods = ["composite", "reinhard"] + (["model"] if model else []) + (["harmonize"] if model and args.harmonize else [])
    names = {"composite": "composite", "reinhard": "Reinhard (Lab transfer)", "model": "model (PyTorch)", "harmonize": "harmonize (Swift)"}
    totals = {m: [0.0, 0.0, 0.0] for m in methods}
    per_image = []
    pool = curve_quality.Pool()
    n = 0
    print(f"{'image':24s}" + "".join(f"{m + ' MSE':>16s}{'fMSE':>9s}" for m in methods))
    for folder in args.folders:
        labels = {}
        lp = os.path.join(folder, "labels.txt")
        if os.path.exists(lp):
            for line in open(lp):
                parts = line.split()
                if len(parts) >= 2:
                    labels[parts[0]] = {"others": "other"}.get(parts[1], parts[1])
        for name in sorted(os.listdir(os.path.join(folder, "composite_images"))):
            stem = os.path.splitext(name)[0]
            base, k, _ = stem.rsplit("_", 2)
            comp = load(os.path.join(folder, "composite_images", name))
            mask = load(os.path.join(folder, "masks", f"{base}_{k}.png"), "L")
            real = load(os.path.join(folder, "real_images", f"{base}.jpg"))
            outs = {"composite": comp, "reinhard": reinhard(comp, mask)}
            label = labels.get(name) if model and model.cfg.variant == "semantic" else None
            if model:
                outs["model"], lut = run_model(model, comp, mask, label)
                pool.add(comp, mask, lut, outs["model"], block=64)
            if "harmonize" in methods:
                outs["harmonize"] = run_command(args.harmonize, args.model, comp,
                                                os.path.join(folder, "masks", f"{base}_{k}.png"), label)
            row = f"{name:24s}"
            image = {"name": name}
            for m in methods:
                mse, psnr, fmse = scores(outs[m], real, mask)
                totals[m][0] += mse; totals[m][1] += psnr; totals[m][2] += fmse
                image[m] = (mse, psnr, fmse)
                row += f"{mse:16.1f}{fmse:9.1f}"
            per_image.append(image)
            print(row)
            n += 1
    print(f"{'mean (' + str(n) + ' images)':24s}" + "".join(f"{t[0] / n:16.1f}{t[2] / n:9.1f}" for t in totals.values()))
    print("mean PSNR: " + ", ".join(f"{m} {t[1] / n:.2f} dB" for m, t in totals.items()))
    if model:
        best = "harmonize" if "harmonize" in methods else "model"
        worse = [im["name"] for im in per_image if im[best][0] > im["composite"][0]]
        print(f"{best}: {len(worse)} of {n} images worse than their composite (MSE){': ' + ', '.join(worse) if worse else ''}")
        print(f"curves: slope p99 {pool.slope_p99():.2f} levels/level at the foregrounds' levels, "
              f"noise gain p90 {pool.noise_gain_p90():.2f} ({pool.blocks()} blocks of 64 px); "
              f"the slope guard would cap {pool.guarded} of {pool.curves}")
    if "harmonize" in methods:
        gap = max(abs(im["harmonize"][0] - im["model"][0]) for im in per_image)
        print(f"Swift vs PyTorch: largest per-image MSE difference {gap:.3f} (must be <= 0.5)")
    if args.markdown:
        lines = ["| image | " + " | ".join(f"{names[m]} MSE / fMSE" for m in methods) + " |", "|---" + "|---:" * len(methods) + "|"]
        for im in per_image:
            lines.append(f"| {im['name']} | " + " | ".join(f"{im[m][0]:.1f} / {im[m][2]:.1f}" for m in methods) + " |")
        lines.append(f"| **mean ({n})** | " + " | ".join(f"**{totals[m][0] / n:.1f} / {totals[m][2] / n:.1f}**" for m in methods) + " |")
        lines.append(f"| mean PSNR | " + " | ".join(f"{totals[m][1] / n:.2f} dB" for m in methods) + " |")
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
