"""Writes a model's weights as safetensors with the metadata the Swift engine reads.

Metadata (all strings, as safetensors requires): format "harmonize-s2crnet", version, variant,
pieces, thumbnail, box_padding, label_dim, labels, mean, std (JSON lists). Tensor names are the
PyTorch state_dict names (features.0.weight, features.3.squeeze.weight, head.fc_b.weight, ...).
"""
import argparse
import json

import torch
from safetensors.torch import save_file

from model import LABELS, ModelConfig, S2CRNet

FORMAT = "harmonize-s2crnet"
VERSION = 1


def metadata(cfg: ModelConfig):
    return {
        "format": FORMAT,
        "version": str(VERSION),
        "variant": cfg.variant,
        "pieces": str(cfg.pieces),
        "thumbnail": str(cfg.thumbnail),
        "box_padding": repr(cfg.box_padding),
        "label_dim": str(cfg.label_dim),
        "labels": json.dumps(list(LABELS)),
        "mean": json.dumps(list(cfg.mean)),
        "std": json.dumps(list(cfg.std)),
    }


def export(model: S2CRNet, path: str, dtype=torch.float32):
    tensors = {k: v.detach().to(dtype).contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, path, metadata=metadata(model.cfg))


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
