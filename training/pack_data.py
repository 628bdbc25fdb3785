"""Packs the training photos and stamp silhouettes into one small folder, for training on another
machine (a lent GPU machine has none of the Debian packages): photos at the long side Composites
keeps anyway (2 x work_size) as high-quality JPEG, and the stamps' alpha channels as PNG. With
`--data pack=DIR`, data.py reads the photos from there in the same order, so the split is unchanged.

    python3 pack_data.py cache/pack            # training photos only (validation stays here)
"""
import argparse
import os

from PIL import Image

import data


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--quality", type=int, default=93)
    args = ap.parse_args()
    cfg = data.DataConfig()
    train, _ = data.split(cfg)
    os.makedirs(os.path.join(args.out, "photos"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "stamps"), exist_ok=True)
    long_side = 2 * cfg.work_size
    for i, path in enumerate(train):
        im = Image.open(path).convert("RGB")
        if max(im.size) > long_side:
            s = long_side / max(im.size)
            im = im.resize((round(im.width * s), round(im.height * s)), Image.LANCZOS)
        im.save(os.path.join(args.out, "photos", data.packed_name(i, path)), quality=args.quality, subsampling=0)
    for i, name in enumerate(data.stamp_names()):
        a = Image.open(os.path.join(data.STAMPS, name)).convert("RGBA").getchannel("A")
        a.save(os.path.join(args.out, "stamps", f"{i:03d}.png"))
    print(f"packed {len(train)} photos and the stamps into {args.out}")


if __name__ == "__main__":
    main()
