"""Writes a model's weights as safetensors with the metadata the Swift engine reads.

Metadata (all strings, as safetensors requires): format "harmonize-s2crnet", version, variant,
pieces, thumbnail, box_padding, label_dim, labels, mean, std (JSON lists). Tensor names are the
PyTorch state_dict names (features.0.weight, features.3.squeeze.weight, head.fc_b.weight, ...).

Version 2 adds each curve's end value y(1) (head.end_b, head.end_f; metadata end_max); a model
without them (free_end off) is still written as version 1, which every engine reads. Version 3
bounds each piece's slope (metadata slope_bound, slope_knee; model.bound_slopes), same tensors.
"""
import argparse
import json

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from model import END_MAX, LABELS, ModelConfig, S2CRNet

FORMAT = "harmonize-s2crnet"
VERSION = 3


def metadata(cfg: ModelConfig):
    extra = {"end_max": repr(END_MAX)} if cfg.free_end else {}
    if cfg.slope_bound > 0:
        extra |= {"slope_bound": repr(cfg.slope_bound), "slope_knee": repr(cfg.slope_knee)}
    return {
        "format": FORMAT,
        "version": str(VERSION if cfg.slope_bound > 0 else 2 if cfg.free_end else 1),
        "variant": cfg.variant,
        "pieces": str(cfg.pieces),
        "thumbnail": str(cfg.thumbnail),
        "box_padding": repr(cfg.box_padding),
        "label_dim": str(cfg.label_dim),
        "labels": json.dumps(list(LABELS)),
        "mean": json.dumps(list(cfg.mean)),
        "std": json.dumps(list(cfg.std)),
    } | extra


def export(model: S2CRNet, path: str, dtype=torch.float32):
    tensors = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, path, metadata=metadata(model.cfg))


def load(path, free_end=None):
    """A model from a safetensors file of either version. free_end=True grows a version 1 model into
    format 2 (end values at zero: y(1) = 1, the same curves), as a starting point for training."""
    with safe_open(path, "pt") as f:
        meta = f.metadata()
    if meta.get("format") != FORMAT:
        raise SystemExit(f"{path}: not a harmonize model")
    version = int(meta["version"])
    cfg = ModelConfig(variant=meta["variant"], pieces=int(meta["pieces"]), thumbnail=int(meta["thumbnail"]),
                      box_padding=float(meta["box_padding"]), label_dim=int(meta["label_dim"]),
                      free_end=version >= 2 if free_end is None else free_end,
                      slope_bound=float(meta.get("slope_bound", 0)), slope_knee=float(meta.get("slope_knee", 1)))
    model = S2CRNet(cfg).eval()
    missing, unexpected = model.load_state_dict({k: v.float() for k, v in load_file(path).items()}, strict=False)
    if unexpected or any(".end_" not in k for k in missing) or (missing and version >= 2):
        raise SystemExit(f"{path}: tensors do not match the model (missing {missing}, unexpected {unexpected})")
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("checkpoint", help="training checkpoint (.pt) holding 'config' and 'ema' or 'model'")
    ap.add_argument("output", help="safetensors file to write")
    ap.add_argument("--dtype", choices=["f32", "f16", "bf16"], default="f32")
    ap.add_argument("--weights", choices=["ema", "raw"], default="ema",
                    help="the EMA of the weights (default) or the last step's (pick by validate.py)")
    args = ap.parse_args()
    ckpt = torch.load(args.checkpoint, map_location="cpu")
    model = S2CRNet(ModelConfig(**ckpt["config"]))
    model.load_state_dict(ckpt["ema"] if args.weights == "ema" and "ema" in ckpt else ckpt["model"])
    export(model, args.output, {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}[args.dtype])


if __name__ == "__main__":
    main()
