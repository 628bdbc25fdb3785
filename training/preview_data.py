"""Writes a grid of synthetic training samples (composite | mask | real) to a png, for a look.

    python3 preview_data.py cache/preview.png --data region_share=1
"""
import argparse

import torch
from PIL import Image

import data


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", default="cache/preview.png")
    ap.add_argument("-n", type=int, default=8)
    ap.add_argument("--data", action="append", default=[], metavar="FIELD=VALUE")
    args = ap.parse_args()
    cfg = data.override(data.DataConfig(), args.data)
    train, _ = data.split(cfg)
    src = data.Composites(train, cfg, seed=7)
    out, n = args.out, args.n
    rows = []
    for _ in range(n):
        s = src.sample()
        rows.append(torch.cat([s["bg_img"], s["bg_mask"].expand(3, -1, -1), s["real"]], 2))
    grid = (torch.cat(rows, 1).clamp(0, 1) * 255).round().byte().permute(1, 2, 0).contiguous()
    Image.frombytes("RGB", (grid.shape[1], grid.shape[0]), bytes(grid.flatten().tolist())).save(out)
    print(out)


if __name__ == "__main__":
    main()
