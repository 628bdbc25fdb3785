"""Writes a grid of synthetic training samples (composite | mask | real) to a png, for a look."""
import sys

import torch
from PIL import Image

import data


def main(out="cache/preview.png", n=8):
    train, _ = data.split(data.DataConfig())
    src = data.Composites(train, seed=7)
    rows = []
    for _ in range(n):
        s = src.sample()
        rows.append(torch.cat([s["bg_img"], s["bg_mask"].expand(3, -1, -1), s["real"]], 2))
    grid = (torch.cat(rows, 1).clamp(0, 1) * 255).round().byte().permute(1, 2, 0).contiguous()
    Image.frombytes("RGB", (grid.shape[1], grid.shape[0]), bytes(grid.flatten().tolist())).save(out)
    print(out)


if __name__ == "__main__":
    main(*sys.argv[1:2])
