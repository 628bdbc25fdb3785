"""Person masks for the listed photos that show people (part of `make train`): MediaPipe's selfie
segmentation (PyPI mediapipe==0.10.14, Apache-2.0; the model ships inside the wheel and runs on CPU),
thresholded at 0.5 and reduced to its largest connected piece (plus any piece at least a quarter of
its size: a group of people). Written to cache/person-masks/NAME.png (white = person), beside the
photo's score: the mean confidence inside the mask and the share of soft pixels (0.2-0.8), which
tell a clean silhouette from a guess (data.py uses masks whose score passes `usable`).

    python3 person_masks.py [--cache DIR] [--verbose]
"""
import argparse
import json
import os

import numpy as np
from PIL import Image

import more_photos

HERE = os.path.dirname(os.path.abspath(__file__))


def usable(score):
    """A silhouette the segmenter was sure of: confident inside, few undecided pixels, a sensible size."""
    return score["confidence"] >= 0.8 and score["soft"] <= 0.25 and 0.02 <= score["area"] <= 0.7


def components(on):
    """4-connected components of a boolean array: (labels, sizes), by a flood fill over runs."""
    from collections import deque
    h, w = on.shape
    labels = np.zeros((h, w), np.int32)
    sizes = [0]
    for y0, x0 in zip(*np.nonzero(on)):
        if labels[y0, x0]:
            continue
        n = len(sizes)
        labels[y0, x0] = n
        queue, size = deque([(y0, x0)]), 0
        while queue:
            y, x = queue.popleft()
            size += 1
            for yy, xx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= yy < h and 0 <= xx < w and on[yy, xx] and not labels[yy, xx]:
                    labels[yy, xx] = n
                    queue.append((yy, xx))
        sizes.append(size)
    return labels, np.array(sizes)


def segment(segmenter, im):
    """Probability map of 'person' at the photo's size, and the cleaned binary mask."""
    prob = segmenter.process(np.asarray(im)).segmentation_mask.astype(np.float32)
    on = prob >= 0.5
    small = Image.fromarray(on.astype(np.uint8) * 255).resize((max(1, im.width // 8), max(1, im.height // 8)), Image.BILINEAR)
    labels, sizes = components(np.asarray(small) >= 128)
    if len(sizes) > 1:
        keep = [i for i in range(1, len(sizes)) if sizes[i] >= sizes[1:].max() / 4]
        big = Image.fromarray(np.isin(labels, keep).astype(np.uint8) * 255).resize(im.size, Image.NEAREST)
        on &= np.asarray(big) >= 128
    return prob, on


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", default=os.environ.get("HARMONIZE_CACHE", os.path.join(HERE, "cache")))
    ap.add_argument("--verbose", action="store_true", help="print each photo's score")
    args = ap.parse_args()
    os.environ.setdefault("GLOG_minloglevel", "2")          # MediaPipe's start-up chatter
    import mediapipe as mp
    out_dir = os.path.join(args.cache, "person-masks")
    os.makedirs(out_dir, exist_ok=True)
    scores_path = os.path.join(out_dir, "scores.json")
    scores = json.load(open(scores_path)) if os.path.exists(scores_path) else {}
    people = [e for e in more_photos.entries() if e.people]
    with mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as segmenter:
        for e in people:
            if e.name in scores and os.path.exists(os.path.join(out_dir, e.name)):
                continue
            im = Image.open(os.path.join(args.cache, "more", e.name)).convert("RGB")
            prob, on = segment(segmenter, im)
            area = float(on.mean())
            scores[e.name] = {"confidence": float(prob[on].mean()) if on.any() else 0.0,
                              "soft": float(((prob > 0.2) & (prob < 0.8)).sum() / max(1, (prob >= 0.5).sum())),
                              "area": area}
            Image.fromarray(on.astype(np.uint8) * 255).save(os.path.join(out_dir, e.name))
    json.dump(scores, open(scores_path, "w"), indent=1, sort_keys=True)
    ok = [n for n, s in scores.items() if usable(s)]
    print(f"person masks: {len(ok)} of {len(people)} usable, in {out_dir}")
    for n in sorted(scores) if args.verbose else []:
        s = scores[n]
        print(f"  {n:55s} confidence {s['confidence']:.2f} soft {s['soft']:.2f} area {s['area']:.2f} {'ok' if usable(s) else '-'}")


if __name__ == "__main__":
    main()
