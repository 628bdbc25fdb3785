"""Averages the weights of several checkpoints of one run (stochastic weight averaging over snapshots).

Validation swings by ~10 % from one checkpoint to the next while the training loss keeps falling; the
mean of snapshots taken along the same low-rate run sits nearer the middle of that basin. The model has
no batch normalisation, so the averaged weights need no recalibration. The output is a checkpoint that
validate.py and export.py read (its "model" and "ema" are the same averaged weights).

    python3 average.py runs/final/step1800.pt runs/final/step2400.pt runs/final/last.pt -o runs/final/avg.pt
"""
import argparse
import os

import torch


def average(paths, key="model"):
    for p in paths:
        if not os.path.isfile(p):
            raise SystemExit(f"average.py: {p}: no such checkpoint")
    cks = [torch.load(p, map_location="cpu", weights_only=False) for p in paths]
    configs = {repr(ck["config"]) for ck in cks}
    if len(configs) != 1:
        raise SystemExit(f"average.py: the checkpoints have different model configs: {sorted(configs)}")
    state = {k: sum(ck[key][k].double() for ck in cks) / len(cks) for k in cks[0][key]}
    state = {k: v.to(cks[0][key][k].dtype) for k, v in state.items()}
    return {"model": state, "ema": state, "step": max(ck["step"] for ck in cks), "config": cks[0]["config"],
            "averaged": [f"{p} ({key}, step {ck['step']})" for p, ck in zip(paths, cks)]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoints", nargs="+")
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--weights", choices=["raw", "ema"], default="raw", help="which weights of each checkpoint")
    args = ap.parse_args()
    ck = average(args.checkpoints, {"raw": "model", "ema": "ema"}[args.weights])
    torch.save(ck, args.output)
    print(f"wrote {args.output}: the mean of {len(args.checkpoints)} checkpoints' {args.weights} weights")


if __name__ == "__main__":
    main()
