#!/usr/bin/env bash
# Benchmarks, each printed as a ratio against a reference run in the same script on the same input.
#   pipeline: harmonize --passthrough (decode -> RGB -> identity -> YUV -> libx264 veryfast crf 18)
#             vs plain `ffmpeg -i same.mp4 -c:v libx264 -preset veryfast -crf 18` on a 1080p clip.
#   engine:   inference, 4K thumbnails and 4K render vs PyTorch (training/bench_reference.py), same threads.
#   memory:   peak memory of the same pass-through on a clip three times as long (bounded pipeline:
#             the ratio should stay near 1).
set -euo pipefail
bin=${1:-.build/release/harmonize}
runs=${RUNS:-3}
work=${BENCH_DIR:-.build/bench}
mkdir -p "$work"

clip="$work/clip-1080p.mp4"
if [ ! -f "$clip" ]; then
    echo "making $clip (1920x1080, 25 fps, 8 s)"
    ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=1920x1080:rate=25,noise=alls=8:allf=t" -t 8 \
        -c:v libx264 -preset veryfast -crf 18 -pix_fmt yuv420p "$clip"
fi
frames=$(ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$clip")

# seconds and peak RSS (KiB) of one run of "$@"
measure() {
    local start end
    start=$(date +%s.%N)
    /usr/bin/env time -f "%M" -o "$work/rss" "$@" >/dev/null 2>"$work/stderr" || { cat "$work/stderr"; exit 1; }
    end=$(date +%s.%N)
    echo "$(echo "$end - $start" | bc -l) $(tail -1 "$work/rss")"
}

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

ours=(); ref=(); ours_rss=(); ref_rss=()
for i in $(seq "$runs"); do
    read -r t m < <(measure ffmpeg -nostdin -v error -y -i "$clip" -c:v libx264 -preset veryfast -crf 18 "$work/ref.mp4")
    ref+=("$t"); ref_rss+=("$m")
    read -r t m < <(measure "$bin" "$clip" -o "$work/ours.mp4" --passthrough -y -q)
    ours+=("$t"); ours_rss+=("$m")
done
t_ref=$(printf '%s\n' "${ref[@]}" | median)
t_ours=$(printf '%s\n' "${ours[@]}" | median)
m_ref=$(printf '%s\n' "${ref_rss[@]}" | median)
m_ours=$(printf '%s\n' "${ours_rss[@]}" | median)
echo
echo "pass-through, $frames frames of 1920x1080, median of $runs runs, $(nproc) cores"
printf '  %-44s %8.1f fps  %6.0f MiB peak\n' "ffmpeg -c:v libx264 -preset veryfast -crf 18" \
    "$(echo "$frames / $t_ref" | bc -l)" "$(echo "$m_ref / 1024" | bc -l)"
printf '  %-44s %8.1f fps  %6.0f MiB peak\n' "harmonize --passthrough (same encoder)" \
    "$(echo "$frames / $t_ours" | bc -l)" "$(echo "$m_ours / 1024" | bc -l)"
printf '  ratio harmonize/ffmpeg fps: %.3f (target >= 0.95)\n' "$(echo "$t_ref / $t_ours" | bc -l)"

# Harmonizing the same clip (still mask over ~1/4 of the frame, seeded model: the arithmetic of a
# trained one), every frame inferred, default smoothing.
mask="$work/mask-1080p.png"
[ -f "$mask" ] || ffmpeg -nostdin -v error -y -f lavfi -i "color=black:size=1920x1080,drawbox=x=600:y=200:w=700:h=700:color=white:t=fill,format=gray" -frames:v 1 "$mask"
harm=()
for i in $(seq "$runs"); do
    read -r t m < <(measure "$bin" "$clip" -m "$mask" -o "$work/harm.mp4" --model Tests/EngineTests/Fixtures/plain.safetensors -y -q)
    harm+=("$t")
done
t_harm=$(printf '%s\n' "${harm[@]}" | median)
printf '  %-44s %8.1f fps  (%.2f of the pass-through)\n' "harmonize -m mask.png (every frame inferred)" \
    "$(echo "$frames / $t_harm" | bc -l)" "$(echo "$t_ours / $t_harm" | bc -l)"
# The network on fewer frames, curves interpolated between them (the moving test pattern keeps
# `auto` busier than a real shot would).
for every in 4 auto; do
    runs_every=()
    for i in $(seq "$runs"); do
        read -r t m < <(measure "$bin" "$clip" -m "$mask" -o "$work/harm.mp4" --model Tests/EngineTests/Fixtures/plain.safetensors -y -q --infer-every "$every")
        runs_every+=("$t")
    done
    t_every=$(printf '%s\n' "${runs_every[@]}" | median)
    printf '  %-44s %8.1f fps  (%.2fx every frame inferred)\n' "harmonize -m mask.png --infer-every $every" \
        "$(echo "$frames / $t_every" | bc -l)" "$(echo "$t_harm / $t_every" | bc -l)"
done

long="$work/clip-1080p-x3.mp4"
[ -f "$long" ] || ffmpeg -nostdin -v error -y -stream_loop 2 -i "$clip" -c copy "$long"
read -r t m_long < <(measure "$bin" "$long" -o "$work/ours-long.mp4" --passthrough -y -q)
printf '  peak memory, clip x3 (%d frames) / clip: %.0f / %.0f MiB = %.2f (bounded: near 1)\n' \
    "$((frames * 3))" "$(echo "$m_long / 1024" | bc -l)" "$(echo "$m_ours / 1024" | bc -l)" "$(echo "$m_long / $m_ours" | bc -l)"

# ---- Engine: the network and the curve renderer vs the PyTorch reference (same model, same threads)
python3 -c "import torch, safetensors" 2>/dev/null || pip install -q torch==2.13.0+cpu safetensors
model=Tests/EngineTests/Fixtures/plain.safetensors   # seeded weights: the same arithmetic as trained ones
threads=$(nproc)
swift_out=$(OPENBLAS_NUM_THREADS=$threads "$(dirname "$bin")/engine-bench" "$model" 20)
torch_out=$(cd training && python3 -W ignore bench_reference.py "../$model" "$threads" 20)
get() { echo "$1" | awk -v k="$2" '$1 == k {print $2}'; }
inf=$(get "$swift_out" inference_ms); tinf=$(get "$torch_out" torch_inference_ms)
ren=$(get "$swift_out" render_4k_ms); tren=$(get "$torch_out" torch_render_4k_ms)
echo
echo "engine, $threads threads each"
printf '  inference, 2 x 256x256 thumbnails: %.1f ms vs PyTorch %.1f ms, ratio %.2f (target <= 1.0)\n' \
    "$inf" "$tinf" "$(echo "$inf / $tinf" | bc -l)"
printf '  render 3840x2160: %.1f ms (%.0f Mpix/s) vs the reference loop over the 64 pieces %.0f ms: %.0fx faster (target >= 20x)\n' \
    "$ren" "$(get "$swift_out" render_4k_mpix_per_s)" "$tren" "$(echo "$tren / $ren" | bc -l)"
thu=$(get "$swift_out" thumbnails_4k_ms); tthu=$(get "$torch_out" torch_thumbnails_4k_ms)
printf '  thumbnails from a 3840x2160 8-bit frame: %.1f ms vs PyTorch %.1f ms, ratio %.2f\n' \
    "$thu" "$tthu" "$(echo "$thu / $tthu" | bc -l)"
