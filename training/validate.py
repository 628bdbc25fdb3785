"""Scores training checkpoints on the validation split (synthetic composites from the held-out
photos): MSE and fMSE at 256 of the EMA weights and of the raw weights, next to the composites'.
This, never the iHarmony4 samples, is what model selection and the ablations use.

Six fixed sets (data.VALIDATION_SETS): "main", recolourings of iHarmony4's strength on shapes placed
anywhere; "near-right", weak or no recolouring, which shows whether a model holds back where little is
wrong; "regions" and "regions-near-right", the same on masks that follow colour regions of the photo
(these four on the held-out photos of photos.txt, so their figures compare with older models);
"more", the held-out photos of more-photos.tsv; "people", their people with person masks. Each row
also has the curves' 99th-percentile slope at the foreground's levels, the noise gain, and the share
of curves the render-time slope guard (harmonize --max-slope 4) would cap (curve_quality).

The score that picks the shipped weights is the mean fMSE over the sets, among the weights whose
curves meet `--max-slope` and `--max-noise` on every set (when given); `--export FILE` writes
the best of the given checkpoints and weights there (export.py's format). `--strengths 0.6,0.8,1`
also scores the curves weakened toward the identity, as `harmonize --strength` applies them.
`--ensemble` scores the given checkpoints as one network whose curves are the mean of theirs, and
`--mirror h|hv` averages a network's curves over mirrored thumbnails (model card: neither adopted).

    python3 validate.py runs/base/last.pt runs/no-feather/last.pt --samples 512
    python3 validate.py ../models/harmonize.safetensors      # an exported model (one weight set)
"""
import argparse
import os

import torch

import data
from export import export, load
from model import ModelConfig, S2CRNet
from train import validate


class AveragedCurves(torch.nn.Module):
    """The mean of several networks' curves, or of one network's on mirrored thumbnails. A curve is
    linear in its increments, so their mean is exactly the mean curve."""

    def __init__(self, models, flips=((),)):
        super().__init__()
        self.models, self.flips = models, flips

    def forward(self, *thumbnails, label=None):
        curves = []
        for model in self.models:
            for dims in self.flips:
                [p] = model(*[t.flip(dims) if dims else t for t in thumbnails])
                curves.append(p)
        return [sum(curves) / len(curves)]


def validation_batches(name, samples):
    """The fixed composites of a validation set (seed 777, larger than train.py's), made once and kept
    in runs/valsets/ (the same every time: making them costs more than scoring a checkpoint)."""
    path = os.path.join(data.HERE, "runs", "valsets", f"{name}-{samples}.pt")
    if os.path.exists(path):
        return torch.load(path)
    source = data.Composites(data.validation_photos(name), data.VALIDATION_SETS[name], seed=777)
    with torch.random.fork_rng():
        torch.manual_seed(777)
        batches = [data.batch(source, 16) for _ in range(samples // 16)]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(batches, path + ".tmp")
    os.replace(path + ".tmp", path)
    return batches


def strength_list(text):
    values = [float(v) for v in text.split(",")]
    if not all(0 <= v <= 1 for v in values):
        raise argparse.ArgumentTypeError(f"strengths must be between 0 and 1: {text}")
    return values


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--samples", type=int, default=512)
    ap.add_argument("--sets", default=",".join(data.VALIDATION_SETS), help="comma-separated names of data.VALIDATION_SETS")
    ap.add_argument("--weights", choices=["ema", "raw", "both"], default="both")
    ap.add_argument("--strengths", type=strength_list, default=[1.0], help="comma-separated curve strengths to score, 0..1 (as harmonize --strength)")
    ap.add_argument("--ensemble", action="store_true", help="score the checkpoints as one network averaging their curves")
    ap.add_argument("--mirror", choices=["none", "h", "hv"], default="none", help="average each network's curves over mirrored thumbnails")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--export", metavar="FILE", help="write the weights with the lowest mean fMSE over the sets")
    ap.add_argument("--max-slope", type=float, default=0, help="pick only among weights whose slope p99 is at most this on every set")
    ap.add_argument("--max-noise", type=float, default=0, help="pick only among weights whose noise gain p90 is at most this on every set "
                    "(or at most the real photos' own gain over the composites, where that is higher)")
    args = ap.parse_args()
    if args.export and args.ensemble:
        raise SystemExit("validate.py: an ensemble is several networks; --export writes one")
    if args.export and args.mirror != "none":
        raise SystemExit("validate.py: mirrored curves are an inference-time average; --export writes plain weights")
    torch.set_num_threads(args.threads)
    strengths = args.strengths
    keys = {"ema": ["ema"], "raw": ["model"], "both": ["ema", "model"]}[args.weights]
    models, steps = {}, {}                                # (checkpoint, weights) -> model, loaded once
    for path in args.checkpoints:
        if not os.path.isfile(path):
            raise SystemExit(f"validate.py: {path}: no such checkpoint")
        if path.endswith(".safetensors"):                 # exported: the same weights in both columns
            steps[path] = 0
            for key in keys:
                models[path, key] = load(path)
            continue
        ck = torch.load(path, map_location="cpu", weights_only=False)
        steps[path] = ck["step"]
        for key in keys:
            models[path, key] = S2CRNet(ModelConfig(**ck["config"])).eval()
            models[path, key].load_state_dict(ck[key])
    flips = {"none": ((),), "h": ((), (-1,)), "hv": ((), (-1,), (-2,))}[args.mirror]
    if args.mirror != "none":
        models = {k: AveragedCurves([m], flips) for k, m in models.items()}
    if args.ensemble:
        name = "+".join(args.checkpoints)
        models = {(name, key): AveragedCurves([models[p, key] for p in args.checkpoints]) for key in keys}
        steps[name] = 0
        args.checkpoints = [name]
    fmse = {}                                             # (checkpoint, weights, strength) -> fMSE on each set
    curves = {}                                           # (checkpoint, weights) -> scores at strength 1 on each set
    for name in args.sets.split(","):
        batches = validation_batches(name, args.samples)
        print(f"validation set '{name}', {len(batches) * 16} composites", flush=True)
        head = "".join(f"{k.replace('model', 'raw').upper() + ' MSE':>10s}{'fMSE':>9s}{'slope':>7s}{'noise':>7s}{'guard':>7s}" for k in keys)
        print(f"{'checkpoint':32s}{'step':>7s}{head}{'comp MSE':>10s}{'fMSE':>9s}{'ideal noise':>12s}")
        for path in args.checkpoints:
            scores = {key: validate(models[path, key], batches, strengths) for key in keys}   # per strength
            for i, s in enumerate(strengths):
                row = f"{path + (f' @{s:g}' if s != 1 else ''):32s}{steps[path]:7d}"
                for key in keys:
                    v = scores[key][i]
                    fmse.setdefault((path, key, s), []).append(v["fmse"])
                    if s == 1:
                        curves.setdefault((path, key), []).append(v)
                    row += f"{v['mse']:10.1f}{v['fmse']:9.1f}" + (f"{v['slope_p99']:7.2f}{v['noise_p90']:7.2f}{v['guard']:7.1%}" if s == 1 else " " * 21)
                print(row + f"{v['comp_mse']:10.1f}{v['comp_fmse']:9.1f}{scores[keys[0]][strengths.index(1.0)]['ideal_noise_p90'] if 1.0 in strengths else float('nan'):12.2f}", flush=True)
    def within_targets(sets):
        """Slope within --max-slope on every set; noise within --max-noise, or within the real photos'
        own gain over the composites where that is higher."""
        return all((not args.max_slope or v["slope_p99"] <= args.max_slope)
                   and (not args.max_noise or v["noise_p90"] <= max(args.max_noise, v["ideal_noise_p90"])) for v in sets)

    eligible = {k: v for k, v in fmse.items() if k[2] != 1 or within_targets(curves[k[:2]])}
    if not eligible:
        raise SystemExit(f"validate.py: no weights meet slope <= {args.max_slope} and noise gain <= {args.max_noise} on every set")
    (path, key, strength), scores = min(eligible.items(), key=lambda kv: sum(kv[1]) / len(kv[1]))
    print(f"best: {path}, {key.replace('model', 'raw')} weights, strength {strength:g}, mean fMSE {sum(scores) / len(scores):.1f} over {args.sets}")
    if args.export and strength != 1:
        raise SystemExit(f"validate.py: the best is at strength {strength:g}, which the exported weights cannot carry; export with --strengths 1")
    if args.export:
        export(models[path, key], args.export)
        print(f"wrote {args.export}")


if __name__ == "__main__":
    main()
