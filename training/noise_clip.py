"""The bright-foreground case of issue 13, measured through the harmonize command: a saturated
orange, grainy foreground moving over a dark, grainy scene (made here with ffmpeg, 640x360, 1 s,
x264 crf 18 as a camera or an edit would leave it). A curve that darkens it and then climbs back to
y(1) = 1 turns the grain on its top levels into blotches.

Prints the 99th-percentile slope of the applied curves at the foreground's levels and the noise
gain inside the mask (curve_quality; 64 px blocks), with the slope guard off (the model alone), and
how many frames the guard (--max-slope 4, the default) acts on. The same clip is made by the Swift
test (NoiseTests) that holds the shipped model to the figures of the fix (slope <= 6, noise gain <= 3;
the issue's target is 3 and 1.25).

    python3 noise_clip.py --harmonize ../.build/release/harmonize --model ../models/harmonize.safetensors
"""
import argparse
import json
import os
import re
import subprocess
import tempfile

import torch

import curve_quality

W, H, RATE, SECONDS = 640, 360, 25, 1
# The same filter graphs as Tests/HarmonizeCLITests (NoiseTests.swift): keep them in step.
SCENE = (f"color=c=0x1c2a3a:s={W}x{H}:r={RATE}:d={SECONDS},noise=alls=10:allf=t:all_seed=1[bg];"
         f"gradients=s=200x260:c0=0xffa040:c1=0xe05018:r={RATE}:d={SECONDS}:speed=0.01:seed=1,format=rgb24,noise=alls=14:allf=t:all_seed=2[fg];"
         f"[bg][fg]overlay=x='100+300*t':y=50:shortest=1,format=yuv420p")
MATTE = (f"color=c=black:s={W}x{H}:r={RATE}:d={SECONDS}[bg];color=c=white:s=200x260:r={RATE}:d={SECONDS}[fg];"
         f"[bg][fg]overlay=x='100+300*t':y=50:shortest=1,format=gray")


def make_clip(folder):
    clip, matte = os.path.join(folder, "clip.mp4"), os.path.join(folder, "matte.mkv")
    run = lambda *a: subprocess.run(["ffmpeg", "-v", "error", "-y", *a], check=True)
    run("-filter_complex", SCENE, "-c:v", "libx264", "-crf", "18", "-preset", "veryfast", clip)
    run("-filter_complex", MATTE, "-c:v", "ffv1", matte)
    return clip, matte


def frames(path, fmt, channels):
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "rawvideo", "-pix_fmt", fmt, "-"],
                         capture_output=True, check=True).stdout
    t = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(-1, H, W, channels).permute(0, 3, 1, 2)
    return t.float() / 255


def measure(binary, model, folder, clip, matte):
    out, curves = os.path.join(folder, "out.mkv"), os.path.join(folder, "curves.jsonl")
    cmd = [binary, clip, "-m", matte, "-o", out, "--codec", "ffv1", "--model", model, "-y", "--curves-out", curves,
           "--infer-every", "1"]      # the network on every frame, as the model card's figures
    subprocess.run(cmd + ["--max-slope", "0", "-q"], check=True)
    luts = [torch.tensor(json.loads(line)["lut"]) for line in open(curves)]
    pool = curve_quality.Pool()
    for image, mask, result, lut in zip(frames(clip, "rgb24", 3), frames(matte, "gray", 1), frames(out, "rgb24", 3), luts):
        pool.add(image, mask, lut, result, block=64)
    guarded = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
    acted = re.search(r"slope guard on (\d+)", guarded)
    return pool, int(acted.group(1)) if acted else 0, len(luts)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--harmonize", required=True)
    ap.add_argument("--model", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        clip, matte = make_clip(tmp)
        pool, acted, n = measure(os.path.abspath(args.harmonize), os.path.abspath(args.model), tmp, clip, matte)
    print(f"bright grainy foreground over a dark scene ({n} frames): slope p99 {pool.slope_p99():.2f} levels/level, "
          f"noise gain p90 {pool.noise_gain_p90():.2f} ({pool.blocks()} blocks); slope guard acts on {acted} of {n} frames")


if __name__ == "__main__":
    main()
