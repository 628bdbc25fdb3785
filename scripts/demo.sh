#!/usr/bin/env bash
# Runs the built tool on demo media into out/ and prints what it wrote.
set -euo pipefail
bin=${1:-.build/release/harmonize}
mkdir -p out
# Until samples/ holds the project's composited clips, the demo makes a short clip and passes it
# through the whole decode -> process -> encode path.
if [ ! -f out/demo-source.mp4 ]; then
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=640x360:rate=25" -f lavfi -i "sine=frequency=330" \
        -t 3 -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest out/demo-source.mp4
fi
"$bin" out/demo-source.mp4 -o out/demo-passthrough.mp4 --passthrough -y
"$bin" out/demo-source.mp4 -o out/demo-frames/ --passthrough -y -q
echo "wrote: out/demo-passthrough.mp4 out/demo-frames/ ($(ls out/demo-frames | wc -l) png files)"
