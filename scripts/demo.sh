#!/usr/bin/env bash
# Harmonizes the samples (samples/README.md) into out/ with the built tool and prints what it wrote.
set -euo pipefail
bin=${1:-.build/release/harmonize}
mkdir -p out/alpha
run() { echo "+ harmonize $*"; "$bin" "$@" -y; }

# A clip with its mask clip (two shots; the summary reports the cut), a review copy, a LUT per shot.
run samples/clip.mp4 -m samples/clip-mask.mp4 -o out/clip.mp4 --lut-out out/clip-luts/
run samples/clip.mp4 -m samples/clip-mask.mp4 -o out/clip-side-by-side.mp4 --side-by-side -q
# The network on fewer frames, curves interpolated between them.
run samples/clip.mp4 -m samples/clip-mask.mp4 -o out/clip-auto.mp4 --infer-every auto
# A png sequence whose alpha channel is the mask (the alpha is kept).
run samples/alpha/%04d.png -o out/alpha/%04d.png
# A still and its mask, and the applied curve as a .cube for grading tools.
run samples/still.jpg -m samples/still-mask.png -o out/still.png --lut-out out/still.cube
run samples/still.jpg -m samples/still-mask.png -o out/still-side-by-side.png --side-by-side -q
# Layers: a cut-out with alpha pasted onto a scene and harmonized in one pass.
run --fg samples/layers/fg.png --bg samples/layers/bg.jpg -o out/layers.png
run --fg samples/layers/fg.png --bg samples/layers/bg.jpg -o out/layers-side-by-side.png --side-by-side -q

echo
echo "wrote:"
for f in out/clip.mp4 out/clip-side-by-side.mp4 out/clip-auto.mp4 out/clip-luts/ out/alpha/ out/still.png \
         out/still-side-by-side.png out/still.cube out/layers.png out/layers-side-by-side.png; do
    echo "  $f"
done
