#!/usr/bin/env bash
# One clip over the cores of one machine with GNU parallel: plan the segments, run them side by side,
# join the parts. Usage:
#   deploy/parallel.sh INPUT OUTPUT SEGMENTS [harmonize options for every segment, e.g. -m matte.mp4]
# The one-liner it runs (HARMONIZE, JOBS and PARTS_DIR may be set; JOBS defaults to SEGMENTS):
#   harmonize plan IN --segments N -o OUT --format shell -- OPTS > jobs.sh &&
#     head -n -1 jobs.sh | parallel --halt now,fail=1 -j N && tail -n 1 jobs.sh | sh
set -euo pipefail
input=$1 output=$2 segments=$3
shift 3
harmonize=${HARMONIZE:-harmonize}
parts=${PARTS_DIR:-$(dirname "$output")/$(basename "${output%.*}").parts}
jobs="$parts/jobs.sh"
mkdir -p "$parts"
# Each segment's cores: the machine's divided among the segments running at once.
jobs_at_once=${JOBS:-$segments}
(( jobs_at_once >= 1 )) || { echo "parallel.sh: JOBS must be at least 1" >&2; exit 2; }
threads=$(( $(nproc) / jobs_at_once )); (( threads >= 1 )) || threads=1
"$harmonize" plan "$input" --segments "$segments" -o "$output" --parts-dir "$parts" --harmonize "$harmonize" \
    --format shell -- --threads "$threads" "$@" > "$jobs"
head -n -1 "$jobs" | parallel --halt now,fail=1 -j "$jobs_at_once"
tail -n 1 "$jobs" | sh
