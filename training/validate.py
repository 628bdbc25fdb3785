"""Scores training checkpoints on the validation split (synthetic composites from the held-out
photos): MSE and fMSE at 256 of the EMA weights and of the raw weights, next to the composites'.
This, never the iHarmony4 samples, is what model selection and the ablations use.

    python3 validate.py runs/base/last.pt runs/no-feather/last.pt --samples 512
"""
import argparse

import torch

import data
from model import ModelConfig, S2CRNet
from train import validate


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("--samples", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    _, val = data.split(data.DataConfig())
    source = data.Composites(val, seed=777)               # a set of its own, larger than train.py's
    with torch.random.fork_rng():
        torch.manual_seed(777)
        batches = [data.batch(source, 16) for _ in range(args.samples // 16)]
    print(f"{'checkpoint':32s}{'step':>7s}{'EMA MSE':>10s}{'fMSE':>9s}{'raw MSE':>10s}{'fMSE':>9s}{'comp MSE':>10s}{'fMSE':>9s}")
    for path in args.checkpoints:
        ck = torch.load(path, map_location="cpu", weights_only=False)
        row = f"{path:32s}{ck['step']:7d}"
        for key in ("ema", "model"):
            model = S2CRNet(ModelConfig(**ck["config"])).eval()
            model.load_state_dict(ck[key])
            v = validate(model, batches)
            row += f"{v['mse']:10.1f}{v['fmse']:9.1f}"
        print(row + f"{v['comp_mse']:10.1f}{v['comp_fmse']:9.1f}", flush=True)


if __name__ == "__main__":
    main()
