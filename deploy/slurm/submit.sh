#!/usr/bin/env bash
# A clip over a Slurm cluster: plan the segments, submit them as a job array, and a join that
# runs once all of them have succeeded. Paths are relative to this folder, which every node must
# see (shared storage); `harmonize` must be on the nodes' PATH (or set HARMONIZE). Usage:
#   deploy/slurm/submit.sh INPUT OUTPUT SEGMENTS [harmonize options for every segment]
# Environment: SBATCH_ARGS (e.g. "--partition=video --cpus-per-task=8"), PARTS_DIR, HARMONIZE,
# WAIT=1 to return only when the join has finished (sbatch --wait; its status is the join's).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
input=$1 output=$2 segments=$3
shift 3
harmonize=${HARMONIZE:-harmonize}
parts=${PARTS_DIR:-$(dirname "$output")/$(basename "${output%.*}").parts}
jobs="$parts/jobs.sh"
mkdir -p "$parts"
"$harmonize" plan "$input" --segments "$segments" -o "$output" --parts-dir "$parts" --harmonize "$harmonize" \
    --format shell -- "$@" > "$jobs"
n=$(( $(wc -l < "$jobs") - 1 ))
# shellcheck disable=SC2086 # SBATCH_ARGS is a list of options
array=$(sbatch --parsable ${SBATCH_ARGS:-} --chdir="$PWD" --output="$parts/segment-%a.log" \
    --array=0-$((n - 1)) "$here/harmonize.sbatch" "$jobs")
array=${array%%;*}
echo "harmonize: $n segments: job array $array; join after it: $output" >&2
# shellcheck disable=SC2086
exec sbatch --parsable ${SBATCH_ARGS:-} --chdir="$PWD" --output="$parts/join.log" \
    --dependency=afterok:"$array" --kill-on-invalid-dep=yes ${WAIT:+--wait} "$here/join.sbatch" "$jobs"
