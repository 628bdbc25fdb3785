#!/usr/bin/env bash
# Installs what training needs (part of `make train`, never of `make test`): the Debian packages
# holding the photographs and stamps listed in training/lists, the 4K photos unpacked from
# enlightenment's .edj files, the Python packages, the photos of lists/more-photos.tsv (taken out of
# their packages without installing them) and the person masks of those that show people.
set -euo pipefail
cd "$(dirname "$0")"
cache=${HARMONIZE_CACHE:-cache}
../scripts/apt-ensure.sh lomiri-wallpapers-16.04 lomiri-wallpapers-20.04 mate-backgrounds lxqt-themes \
    plasma-workspace-wallpapers enlightenment-data tuxpaint-stamps-default libedje-bin
python3 -c "import torch, safetensors, PIL, mediapipe" 2>/dev/null || pip install -q -r requirements.txt
mkdir -p "$cache/edj"
# Each .edj holds the photo at several sizes (img-WxH.png); keep the largest as NAME.png.
grep '\.edj$' lists/photos.txt | while read -r edj; do
    name=$(basename "$edj" .edj)
    [ -f "$cache/edj/$name.png" ] && continue
    tmp=$(mktemp -d)
    edje_decc "$edj" -output "$tmp/out" >/dev/null 2>&1
    largest=$(ls "$tmp/out"/img-*.png | awk -F'[-x.]' '{print $(NF-2) * $(NF-1), $0}' | sort -n | tail -1 | cut -d' ' -f2)
    cp "$largest" "$cache/edj/$name.png"
    rm -rf "$tmp"
done
python3 more_photos.py --cache "$cache"
python3 person_masks.py --cache "$cache" 2>/dev/null
echo "photos: $(wc -l < lists/photos.txt) + $(($(wc -l < lists/more-photos.tsv) - 1)), stamps: $(wc -l < lists/tuxpaint-photo-stamps.txt), cache: $cache"
