#!/usr/bin/env bash
# The shipped model's recipe, as ten stages of train.py, each in its own run folder and each
# resumed where it stopped when this is run again (`make train`). A finished stage is skipped.
# The model card (models/README.md) has the wall times and the validation figures of each stage.
set -euo pipefail
cd "$(dirname "$0")"
DATA="--data weak_share=0.25 --data identity_share=0.1"

# 1. From random initialisation: recoloured regions of iHarmony4's strength, stamp and blob shapes.
python3 train.py --run runs/base --steps 4000 --lr 3e-4 --warmup 500 "$@"

# 2. Continued with weak and absent recolourings (restraint where little is wrong). The shipped model
#    ran this stage on a lent GPU (--device cuda --workers 15, 5.2 steps/s); on 2 CPU cores it takes ~40 min.
python3 train.py --run runs/cont --init runs/base/last.pt --steps 2062 --lr 2e-4 --warmup 200 $DATA "$@"

# 3. Continued with 30 % of the masks on colour regions of the photo itself (data.region_mask), so that
#    a foreground that legitimately differs from its surroundings is not pulled toward them.
python3 train.py --run runs/final --init runs/cont/last.pt --steps 3000 --lr 1e-4 --warmup 100 --seed 1 \
    --snapshot-every 600 $DATA --data region_share=0.3 "$@"

# 4. From stage 3's best snapshot (step 1800 raw: the lowest mean fMSE over the four validation sets
#    of stage 3's snapshots), with 60 % colour-region masks.
python3 train.py --run runs/regions60 --init runs/final/step1800.pt --steps 3000 --lr 1e-4 --warmup 100 --seed 2 \
    --snapshot-every 500 $DATA --data region_share=0.6 "$@"

# Stage 4's pick: of its snapshots (EMA and raw), the lowest mean fMSE over the four original
# validation sets (photos never trained on). It shipped as format 1 until stage 5.
[ -f runs/stage4.safetensors ] || python3 validate.py runs/regions60/step*.pt --sets main,near-right,regions,regions-near-right \
    --export runs/stage4.safetensors

# 5. Format 2 curves (a predicted end value, so darkening needs no jump at the top) with a smoothness
#    loss (slopes above 2 levels per level and the slopes' ripples), on four times the photos: the
#    166 of lists/more-photos.tsv join the training split, with person masks on the photos of people
#    (half their samples) and person silhouettes among the stamp shapes. Grown from stage 4's pick.
#    Stopped at step 1200 of a 1600-step schedule (the session's time; 1.34 h on 2 CPU cores).
python3 train.py --run runs/stage5 --init runs/stage4.safetensors --steps 1600 --stop-at 1200 --lr 1e-4 --warmup 100 --seed 3 --workers 1 \
    --snapshot-every 400 --slope-max 2 --slope-weight 0.02 --curvature-weight 0.003 \
    $DATA --data region_share=0.5 --data more_photos=1 --data person_share=0.5 "$@"

# 6. From stage 5's pick (step 1200 raw), the same data with a texture term: the fMSE of the high
#    frequencies (--texture-weight 30, about a quarter of the loss), which asks each curve's local
#    slope to give the grain the real photo's contrast (stage 5's curves raised the grain's energy by
#    1.45x at the 90th percentile where the real photos' own gain was 1.12). 1000 steps.
python3 train.py --run runs/stage6 --init runs/stage5/step1200.pt --steps 1000 --lr 1e-4 --warmup 50 --seed 4 --workers 1 \
    --snapshot-every 250 --slope-max 2 --slope-weight 0.02 --curvature-weight 0.003 --texture-weight 30 \
    $DATA --data region_share=0.5 --data more_photos=1 --data person_share=0.5 "$@"

# 7. From stage 6's pick (step 1000 raw), the same data and terms plus the foreground-slope term: the
#    applied table's slope above 2 levels per level where the foreground has pixels, weighted by its
#    histogram (curve_quality's slope measure as a loss). Stage 6's pieces each kept within 2, but
#    its applied curves reached 5.2 on the bright clip (noise_clip.py), a foreground that must be
#    darkened, where the end value stayed near 0.87 and the curve's top climbed back to it. 800 steps
#    (1.42 h on 2 CPU cores). Run from the export of that snapshot (models/harmonize.safetensors of
#    stage 6, the same weights): the stage 6 run folder was gone with the session's checkout.
python3 train.py --run runs/stage7 --init runs/stage6/step1000.pt --steps 800 --lr 1e-4 --warmup 50 --seed 5 --workers 1 \
    --snapshot-every 200 --slope-max 2 --slope-weight 0.02 --curvature-weight 0.003 --texture-weight 30 \
    --fg-slope-max 2 --fg-slope-weight 0.05 \
    $DATA --data region_share=0.5 --data more_photos=1 --data person_share=0.5 "$@"

# 8. From stage 7's pick (step 800 raw), with the bright clip's own case in the data: 15 % of the
#    samples are grainy foregrounds brightened until they clip (data.brighten), which only a smooth
#    darkening whose top ends below 1 undoes. Stage 7 still took that clip's curves to a slope of 3.8
#    at its foreground's levels. Fewer colour-region masks (0.4, was 0.5), to win back the main set,
#    which the foreground-slope term had cost 4 %. Stopped after step 648 of an 800-step schedule
#    (snapshots at 200, 400 and 600 scored; 1.2 h on 2 CPU cores beside other work).
python3 train.py --run runs/stage8 --init runs/stage7/step800.pt --steps 800 --stop-at 600 --lr 1e-4 --warmup 50 --seed 6 --workers 1 \
    --snapshot-every 200 --slope-max 2 --slope-weight 0.02 --curvature-weight 0.003 --texture-weight 30 \
    --fg-slope-max 2 --fg-slope-weight 0.05 \
    $DATA --data region_share=0.4 --data more_photos=1 --data person_share=0.5 --data bright_share=0.15 "$@"

# 9. From stage 8's pick (step 600 raw), in curve format 3: each piece's slope is bent below 2 by
#    construction (slopes up to 1 pass unchanged; model.bound_slopes), so no data can ask for the
#    jump at the top that un-clips a brightened foreground (stage 8 still took the bright clip to a
#    slope of 3.76 and a noise gain of 1.84). The foreground-slope term starts at 1.5 (was 2). 500 steps.
python3 train.py --run runs/stage9 --init runs/stage8/step600.pt --steps 500 --lr 1e-4 --warmup 50 --seed 7 --workers 1 \
    --snapshot-every 250 --slope-max 2 --slope-weight 0.02 --curvature-weight 0.003 --texture-weight 30 \
    --fg-slope-max 1.5 --fg-slope-weight 0.05 --slope-bound 2 --slope-knee 1 \
    $DATA --data region_share=0.4 --data more_photos=1 --data person_share=0.5 --data bright_share=0.15 "$@"

# 10. From stage 9's pick (step 500 raw), the same data and terms at a lower rate (7e-5, was 1e-4) and
#    a longer schedule: stage 9's validation fMSE still fell at its end. 800 steps. Run from the export
#    of that snapshot (models/harmonize.safetensors of stage 9, the same weights): the stage 9 run
#    folder was gone with the session's checkout.
python3 train.py --run runs/stage10 --init runs/stage9/step500.pt --steps 800 --lr 7e-5 --warmup 50 --seed 8 --workers 1 \
    --snapshot-every 200 --slope-max 2 --slope-weight 0.02 --curvature-weight 0.003 --texture-weight 30 \
    --fg-slope-max 1.5 --fg-slope-weight 0.05 --slope-bound 2 --slope-knee 1 \
    $DATA --data region_share=0.4 --data more_photos=1 --data person_share=0.5 --data bright_share=0.15 "$@"

# The shipped weights: among the weights that meet issue 13's curve targets on the bright-foreground clip
# (noise_clip.py: slope p99 <= 3, noise gain <= 1.25; only format 3 ones do) and slope p99 <= 3 on
# every validation set, the lowest mean fMSE over all seven sets: stage 10's step 600 raw (651.0;
# model card). Stage 9's step 500 raw shipped before it (669.9), stage 8's step 600 raw before that
# (663.2, but 3.76 / 1.84 on the clip).
python3 validate.py runs/stage10/step*.pt --max-slope 3 --export ../models/harmonize.safetensors
python3 noise_clip.py --harmonize ../.build/release/harmonize --model ../models/harmonize.safetensors
