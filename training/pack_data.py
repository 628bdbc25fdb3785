"""Packs the training photos and stamp silhouettes into one small folder, for training on another
machine (a lent GPU machine has none of the Debian packages): photos at the long side Composites
keeps anyway (2 x work_size) as high-quality JPEG, the stamps' alpha channels as PNG, and the usable
person masks (person-masks/, named as their photo). With `--data pack=DIR`, data.py reads the photos
from there in the same order, so the split is unchanged. The pack holds the more photos too (stage 5);
a stage run without `--data more_photos=1` reads only the first ones, which are the old photos.

    python3 pack_data.py cache/pack            # training photos only (validation stays here)
"""
import argparse
import os
import shutil

import data


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--quality", type=int, default=93)
    args = ap.parse_args()
    cfg = data.DataConfig(more_photos=1)
    train, _ = data.split(cfg)
    os.makedirs(os.path.join(args.out, "photos"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "person-masks"), exist_ok=True)
    os.makedirs(os.path.join(args.out, "stamps"), exist_ok=True)
    for i, path in enumerate(train):
        im = data.open_photo(path, 2 * cfg.work_size)
        name = data.packed_name(i, path)
        im.save(os.path.join(args.out, "photos", name), quality=args.quality, subsampling=0)
        mask = data.person_mask_path(path)
        if mask:
            shutil.copyfile(mask, os.path.join(args.out, "person-masks", os.path.splitext(name)[0] + ".png"))
    for i, name in enumerate(data.stamp_names()):
        data.stamp_alpha(data.stamp_path(i, name)).save(data.stamp_path(i, name, args.out))
    print(f"packed {len(train)} photos and the stamps into {args.out}")


if __name__ == "__main__":
    main()
