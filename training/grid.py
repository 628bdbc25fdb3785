"""The model card's figure: validation composites (photos never trained on) before and after the
model, next to the real photo: one column per example, rows composite / harmonized / real, each
with its MSE against the real photo at 256x256. The columns come from the "main" validation set
(shapes placed anywhere), "regions" (masks on colour regions) and "people" (a person's mask), the
last only on a held-out photo whose licence allows a figure (skimage's astronaut, public domain:
kphotoalbum's people are private and stay out of every figure).

    python3 grid.py ../models/harmonize.safetensors ../models/grid.png
"""
import argparse
import os

import torch
from PIL import Image, ImageDraw

import data
from export import load
from model import harmonize

FIGURE_PEOPLE = {"python3-astronaut.png"}     # held-out photos of people that may appear in figures


@torch.no_grad()
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("output")
    ap.add_argument("--examples", type=int, default=8)
    ap.add_argument("--size", type=int, default=160)
    args = ap.parse_args()
    model = load(args.model)
    _, val = data.split(data.DataConfig())
    public_people = [p for p in data.validation_photos("people") if os.path.basename(p) in FIGURE_PEOPLE]
    people = max(1, args.examples // 4)
    halves = []
    for name, n, photos in (("main", (args.examples - people + 1) // 2, val), ("regions", (args.examples - people) // 2, val),
                            ("people", people, public_people)):
        source = data.Composites(photos, data.VALIDATION_SETS[name], seed=2024)
        with torch.random.fork_rng():
            torch.manual_seed(2024)
            halves.append(data.batch(source, n))
    b = {k: torch.cat([h[k] for h in halves]) for k in halves[0]}
    out = b["bg_img"]
    for p in model(b["fg_img"], b["fg_mask"], b["bg_img"], b["bg_mask"]):
        out = harmonize(out, b["bg_mask"], p)
    rows = [("composite", b["bg_img"]), ("harmonized", out), ("real", b["real"])]
    S, pad, label = args.size, 4, 14
    grid = Image.new("RGB", (args.examples * (S + pad) + pad, len(rows) * (S + pad + label) + pad), "white")
    draw = ImageDraw.Draw(grid)
    for r, (name, imgs) in enumerate(rows):
        for i in range(args.examples):
            x, y = pad + i * (S + pad), pad + r * (S + pad + label)
            im = (imgs[i].clamp(0, 1) * 255).round().byte().permute(1, 2, 0).contiguous().numpy()
            grid.paste(Image.fromarray(im).resize((S, S), Image.BILINEAR), (x, y + label))
            mse = float(((imgs[i] - b["real"][i]) ** 2).mean()) * 255 ** 2
            draw.text((x, y), name if name == "real" else f"{name} {mse:.0f}", fill="black")
    grid.save(args.output, optimize=True)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
