"""Temporal evaluation of the `harmonize` command on clips with ground truth (make_video.py).

For each clip and each setting (the composite itself, per-frame inference `--smoothing 0`, the
defaults (`--infer-every auto`), every frame inferred, every 4th, and a window as long as the shot), per-frame MSE and fMSE at 256x256 as in iHarmony4, and the
temporal error TE = mean over t of the foreground mean |(out_t - out_{t-1}) - (gt_t - gt_{t-1})|
(0..255 units, over the pixels in the foreground at both t-1 and t, pairs across a cut left out). `cut fMSE` is the fMSE of
the first frames after the cuts: smoothing must not let colour bleed across a cut.

    python3 eval_video.py --harmonize ../.build/release/harmonize --model ../models/harmonize.safetensors
"""
import argparse
import os
import re
import subprocess
import time

import torch
import torch.nn.functional as F

import data
import make_video

SETTINGS = [
    ("composite (no harmonization)", None),
    ("per frame (--infer-every 1 --smoothing 0)", ["--infer-every", "1", "--smoothing", "0"]),
    ("default (--infer-every auto --smoothing 0.25)", []),
    ("--infer-every 1", ["--infer-every", "1"]),
    ("--infer-every 4", ["--infer-every", "4"]),
    # Nearly one curve per shot: no flicker at all, so its TE is the floor that the composite's own
    # colour error leaves (a wrong gain on moving texture differs from frame to frame too).
    ("one curve per shot (--smoothing 5)", ["--infer-every", "1", "--smoothing", "5"]),
]


def read_frames(path, grey=False):
    """All frames of a clip as a float tensor (T, C, H, W) in [0, 1]."""
    probe = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                            "-of", "csv=p=0", path], capture_output=True, text=True, check=True).stdout.split(",")
    w, h = int(probe[0]), int(probe[1])
    raw = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", "gray" if grey else "rgb24", "-"],
                         capture_output=True, check=True).stdout
    c = 1 if grey else 3
    x = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(-1, h, w, c).permute(0, 3, 1, 2)
    return x.float() / 255


def at256(x):
    """Bilinear resize to 256x256, 0..255 units (T, C, 256, 256)."""
    return F.interpolate(x, size=(256, 256), mode="bilinear", align_corners=False, antialias=True) * 255


def clip_scores(out, real, mask, starts):
    o, r, m = at256(out), at256(real), at256(mask) / 255
    err = (o - r) ** 2
    mse = err.mean((1, 2, 3))
    area = m.sum((1, 2, 3)).clamp(min=1)
    fmse = (err * m).sum((1, 2, 3)) / (3 * area)
    # Over the pixels inside the foreground in both frames: a pixel the moving mask enters or leaves
    # changes for reasons that are not temporal (its harmonization error, already in fMSE).
    both = torch.minimum(m[1:], m[:-1])
    d = (o[1:] - o[:-1]) - (r[1:] - r[:-1])
    te = (d.abs() * both).sum((1, 2, 3)) / (3 * both.sum((1, 2, 3)).clamp(min=1))
    keep = [t for t in range(1, len(o)) if t not in starts]          # pairs inside a shot
    cuts = [s for s in starts if s > 0]
    return {"mse": float(mse.mean()), "fmse": float(fmse.mean()), "te": float(te[[t - 1 for t in keep]].mean()),
            "cut_fmse": float(fmse[cuts].mean()) if cuts else float("nan")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--harmonize", default=os.path.join(data.HERE, "..", ".build", "release", "harmonize"))
    ap.add_argument("--model", default=os.path.join(data.HERE, "..", "models", "harmonize.safetensors"))
    ap.add_argument("--clips", default=os.path.join(data.HERE, "cache", "video-eval"))
    ap.add_argument("--markdown", help="also write the table to this file")
    args = ap.parse_args()

    # Step 1: the clips (made once from the validation photos, then cached).
    if not all(os.path.exists(os.path.join(args.clips, s.name, "shots.txt")) for s in make_video.EVAL_CLIPS):
        _, val = data.split(data.DataConfig())
        photos, stamps = make_video.load_photos(val), data.load_stamps()
        for spec in make_video.EVAL_CLIPS:
            make_video.make_clip(spec, photos, stamps, args.clips)

    # Step 2: every setting on every clip, scored against the ground truth.
    rows = {name: [] for name, _ in SETTINGS}
    runs = {name: [0, 0, 0.0] for name, _ in SETTINGS}            # network runs, frames, seconds
    for spec in make_video.EVAL_CLIPS:
        d = os.path.join(args.clips, spec.name)
        real, mask = read_frames(os.path.join(d, "real.mkv")), read_frames(os.path.join(d, "mask.mkv"), grey=True)
        starts = [int(s) for s in open(os.path.join(d, "shots.txt")).read().split()]
        for name, flags in SETTINGS:
            if flags is None:
                out = read_frames(os.path.join(d, "composite.mkv"))
            else:
                target = os.path.join(d, "out.mkv")
                t0 = time.time()
                p = subprocess.run([args.harmonize, os.path.join(d, "composite.mkv"), "-m", os.path.join(d, "mask.mkv"), "-o", target,
                                    "--model", args.model, "--codec", "ffv1", "-y"] + flags, capture_output=True, text=True)
                if p.returncode != 0:
                    raise SystemExit(f"harmonize failed on {spec.name}: {p.stderr.strip()}")
                runs[name][2] += time.time() - t0
                out = read_frames(target)
                found = re.search(r"network on (\d+) of them", p.stderr)
                runs[name][0] += int(found.group(1)) if found else len(out)
                runs[name][1] += len(out)
                shots = re.search(r"(\d+) shots", p.stderr)
                if (int(shots.group(1)) if shots else 1) != len(starts):
                    print(f"note: {spec.name} ({name}): {shots.group(1) if shots else 1} shots found, {len(starts)} made")
            rows[name].append(clip_scores(out, real, mask, starts))

    # Step 3: the table (means over the clips; cut fMSE over the clips with cuts).
    def mean(name, key):
        v = [r[key] for r in rows[name] if r[key] == r[key]]
        return sum(v) / len(v)

    lines = [f"Clips: {', '.join(s.name for s in make_video.EVAL_CLIPS)} ({sum(sum(sh.frames for sh in s.shots) for s in make_video.EVAL_CLIPS)} frames, "
             f"{sum(len(s.shots) - 1 for s in make_video.EVAL_CLIPS)} cuts, 640x360, validation photos only)", "",
             "| setting | MSE | fMSE | TE | cut fMSE | network runs |", "|---|---:|---:|---:|---:|---:|"]
    for name, flags in SETTINGS:
        share = "" if flags is None else f"{runs[name][0]} / {runs[name][1]}"
        lines.append(f"| {name} | {mean(name, 'mse'):.1f} | {mean(name, 'fmse'):.1f} | {mean(name, 'te'):.2f} | {mean(name, 'cut_fmse'):.1f} | {share} |")
    per, default = SETTINGS[1][0], SETTINGS[2][0]
    lines += ["", f"TE default / per frame: {mean(default, 'te') / mean(per, 'te'):.2f} (target <= 0.5); "
              f"fMSE default / per frame: {mean(default, 'fmse') / mean(per, 'fmse'):.3f} (target <= 1.02); "
              f"cut fMSE default / per frame: {mean(default, 'cut_fmse') / mean(per, 'cut_fmse'):.3f} (target <= 1.02)"]
    text = "\n".join(lines)
    print(text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
