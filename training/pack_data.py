"""Packs the training photos and stamp silhouettes into one small folder, for training on another
machine (a lent GPU machine has none of the Debian packages): photos at the long side Composites
keeps anyway (2 x work_size) as high-quality JPEG, and the stamps' alpha channels as PNG. With
`--data pack=DIR`, data.py reads the photos from there in the same order, so the split is unchanged.

    python3 pack_data.py cache/pack            # training photos only (validation stays here)
"""
import argparse
import os

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
    for i, path in enumerate(train):
        im = data.open_photo(path, 2 * cfg.work_size)
        im.save(os.path.join(args.out, "photos", data.packed_name(i, path)), quality=args.quality, subsampling=0)
    for i, name in enumerate(data.stamp_names()):
        data.stamp_alpha(data.stamp_path(i, name)).save(data.stamp_path(i, name, args.out))
    print(f"packed {len(train)} photos and the stamps into {args.out}")


if __name__ == "__main__":
    main()
