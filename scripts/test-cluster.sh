#!/usr/bin/env bash
# `make test-cluster`: the Slurm recipe of deploy/ on a real single-node Slurm cluster that this
# script starts and stops itself (Debian's slurmctld, slurmd, slurm-client and munge, daemons run
# directly, no systemd, everything in a temporary folder, every address on 127.0.0.1): a clip with
# a moving mask, audio and a scene cut, planned into 3 segments, run as a job array, joined by a
# dependent job, and compared with a single pass (same frames, timestamps and audio). `make test`
# runs it (about 20 s once Slurm is installed); `make test-cluster` alone, with the release build.
# Usage: scripts/test-cluster.sh HARMONIZE_BINARY
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
harmonize=$(realpath "${1:?usage: scripts/test-cluster.sh HARMONIZE_BINARY}")
model="$root/models/harmonize.safetensors"
"$root/scripts/apt-ensure.sh" slurmctld slurmd slurm-client munge

# munge refuses folders others can write to: the whole path is mode 755.
dir=$(mktemp -d /tmp/harmonize-cluster.XXXXXX)
chmod 755 "$dir"
pids=()
stop() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    if [[ ${KEEP:-0} == 1 ]]; then echo "kept $dir"; else rm -rf "$dir"; fi
}
trap stop EXIT
fail() { echo "test-cluster: $*" >&2; for log in "$dir"/*.log; do echo "--- $log" >&2; tail -n 20 "$log" >&2; done; exit 1; }

# 1. munge: a key, a socket and logs of its own.
mkdir -m 755 "$dir/munge" "$dir/state" "$dir/spool" "$dir/work"
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$dir/munge/munge.key"
munged -F -f --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.sock" --pid-file="$dir/munge/munged.pid" \
    --seed-file="$dir/munge/munged.seed" --log-file="$dir/munged.log" 2>"$dir/munged.log" &
pids+=($!)

# 2. Slurm: one node with this machine's cores, jobs as root, state and logs in the folder. The
# controller must be named as this host is (slurmctld checks), its address is loopback's.
port=$(( 20000 + RANDOM % 20000 ))
host=$(hostname -s)
cat > "$dir/slurm.conf" <<CONF
ClusterName=harmonize-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.sock
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MinJobAge=10
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=hz1 NodeAddr=127.0.0.1 NodeHostname=hz1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=hz1 Default=YES MaxTime=INFINITE State=UP
CONF
echo "CgroupPlugin=cgroup/v1" > "$dir/cgroup.conf"
export SLURM_CONF="$dir/slurm.conf"
slurmctld -D -i -f "$SLURM_CONF" 2>/dev/null &
pids+=($!)
slurmd -D -f "$SLURM_CONF" -N hz1 2>/dev/null &
pids+=($!)
idle() { timeout 5 sinfo -h -o %T 2>/dev/null | grep -qx idle; }
for _ in $(seq 50); do idle && break; sleep 0.2; done
idle || fail "the cluster did not come up"
echo "test-cluster: a one-node Slurm cluster is up ($(sinfo -h -o '%P %D %c %T'))"

# 3. The clip: a test pattern then a zooming fractal (a cut at 2.6 s), a sine, a moving mask box.
cd "$dir/work"
ff() { ffmpeg -nostdin -v error -y "$@"; }
ff -f lavfi -i "testsrc2=size=320x240:rate=25:duration=2.6,gblur=sigma=1" \
   -f lavfi -i "mandelbrot=size=320x240:rate=25,trim=duration=2.4,setpts=PTS-STARTPTS" \
   -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=5" \
   -filter_complex "[0:v][1:v]concat=n=2:v=1:a=0,format=yuv420p[v]" -map "[v]" -map 2:a \
   -c:v libx264 -crf 12 -c:a aac -b:a 96k clip.mp4
ff -f lavfi -i "color=black:size=320x240:rate=25:duration=5" -f lavfi -i "color=white:size=100x120:rate=25" \
   -filter_complex "[0][1]overlay=x='30+30*t':y=60:shortest=1,gblur=sigma=2,format=gray" \
   -c:v libx264 -crf 0 -pix_fmt yuv420p mask.mp4
options=(-m mask.mp4 --model "$model" --crf 0)
"$harmonize" clip.mp4 -o single.mp4 -q "${options[@]}"

# 4. The recipe: 3 segments as a job array, the join after it; --wait returns with the join.
start=$SECONDS
HARMONIZE="$harmonize" WAIT=1 PARTS_DIR=parts "$root/deploy/slurm/submit.sh" clip.mp4 joined.mp4 3 "${options[@]}" >/dev/null \
    || fail "the Slurm jobs failed: $(cat parts/*.log 2>/dev/null)"
echo "test-cluster: 3 segments and the join ran in $((SECONDS - start)) s"
grep -h "joined" parts/join.log || true

# 5. The joined clip against the single pass: frames, timestamps, audio packets.
# (ffprobe's csv adds a field and a line for frames with side data, as each part's first has: its
# encoder's SEI; only the values are compared.)
probe() { ffprobe -v error -of csv=p=0 "$@" | tr -d ', ' | grep -v '^$'; }
[[ $(probe -select_streams v -show_entries frame=best_effort_timestamp_time single.mp4) == \
   "$(probe -select_streams v -show_entries frame=best_effort_timestamp_time joined.mp4)" ]] || fail "timestamps differ"
[[ $(probe -select_streams a -show_entries packet=pts,size single.mp4) == \
   "$(probe -select_streams a -show_entries packet=pts,size joined.mp4)" ]] || fail "audio differs"
frames() { ffmpeg -nostdin -v error -i "$1" -map 0:v -f framemd5 -; }
[[ $(frames single.mp4 | grep -v '^#') == "$(frames joined.mp4 | grep -v '^#')" ]] || fail "frames differ from the single pass"
echo "test-cluster: passed: the joined clip equals the single pass ($(probe -count_frames -select_streams v -show_entries stream=nb_read_frames joined.mp4) frames, timestamps, audio)"
