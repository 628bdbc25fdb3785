"""Deterministic parity fixtures for the Swift engine (Tests/EngineTests/Fixtures).

For each variant: seeded weights (f16, so the loader's f16 path is exercised and the files stay
small; the reference runs on the same f16-rounded values in f32), a 96x64 test picture and soft mask
made here and its four thumbnails (picture.safetensors), and per variant the expected curves of
every stage (their increments, y((i+1)/K) - y(i/K)), the 256-entry LUT and the rendered 8-bit output.
plain, cascaded and semantic are format 1 files (y(1) = 1); plain-v2 is format 2 (end values);
plain-v3 is format 3 (end values, the pieces' slopes bent below 2). Run from the repository root: python3 training/make_fixtures.py
"""
import json
import math
import os

import torch
from safetensors.torch import save_file

from export import export
from model import LABELS, ModelConfig, S2CRNet, compose_luts, prepare_thumbnails

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "EngineTests", "Fixtures")
W, H = 96, 64


def picture():
    """A smooth scene with a warm object on a cool background, and a feathered elliptical mask."""
    y = torch.linspace(0, 1, H).view(H, 1).expand(H, W)
    x = torch.linspace(0, 1, W).view(1, W).expand(H, W)
    r = 0.25 + 0.5 * x + 0.1 * torch.sin(9 * y)
    g = 0.35 + 0.3 * y + 0.1 * torch.cos(7 * x)
    b = 0.6 - 0.3 * x * y
    d = ((x - 0.55) / 0.22) ** 2 + ((y - 0.5) / 0.3) ** 2
    inside = (d < 1).float()
    r = r * (1 - inside) + inside * (0.85 - 0.2 * y)
    g = g * (1 - inside) + inside * (0.5 + 0.1 * x)
    b = b * (1 - inside) + inside * 0.2
    img = torch.stack([r, g, b]).clamp(0, 1)
    img = (img * 255).round() / 255                       # an 8-bit picture
    mask = (1 - d).mul(4).clamp(0, 1)                     # soft edge
    mask = (mask * 255).round() / 255
    return img.unsqueeze(0), mask.view(1, 1, H, W)


def main():
    os.makedirs(OUT, exist_ok=True)
    img, mask = picture()
    to8 = lambda t: (t.clamp(0, 1) * 255).round().to(torch.uint8)
    # The thumbnails are the same for every variant (same picture, same preparation): stored once, f32.
    thumbs = prepare_thumbnails(img, mask, ModelConfig())
    save_file({"image": to8(img)[0].permute(1, 2, 0).contiguous(), "mask": to8(mask)[0, 0].contiguous(),
               "fg_img": thumbs[0][0].contiguous(), "fg_mask": thumbs[1][0].contiguous(),
               "bg_img": thumbs[2][0].contiguous(), "bg_mask": thumbs[3][0].contiguous()},
              os.path.join(OUT, "picture.safetensors"))
    for i, (fixture, variant, free_end, bound) in enumerate([
            ("plain", "plain", False, 0.0), ("cascaded", "cascaded", False, 0.0), ("semantic", "semantic", False, 0.0),
            ("plain-v2", "plain", True, 0.0), ("plain-v3", "plain", True, 2.0)]):
        torch.manual_seed(1234 + i)
        cfg = ModelConfig(variant=variant, free_end=free_end, slope_bound=bound)
        model = S2CRNet(cfg).eval()
        with torch.no_grad():
            # Heads strong enough to bend the curves visibly (trained heads do; the init is identity).
            for name, p in model.named_parameters():
                if ("fc_" in name or "end_" in name) and name.endswith("weight"):
                    p.normal_(0, 0.05)
                if ("fc_" in name or "end_" in name) and name.endswith("bias"):
                    p.normal_(0, 1.0)
            for p in model.parameters():                  # the reference uses the shipped f16 values
                p.copy_(p.half().float())
        export(model, os.path.join(OUT, f"{fixture}.safetensors"), torch.float16)
        label = torch.tensor([LABELS.index("animal")]) if variant == "semantic" else None
        with torch.no_grad():
            thumbs = prepare_thumbnails(img, mask, cfg)
            ps = model(*thumbs, label=label)
            lut = compose_luts(ps, 256)
            # Render: the LUT at the 8-bit input values, blended with the soft mask.
            idx = (img * 255).round().long()
            curved = torch.stack([lut[0, c][idx[0, c]] for c in range(3)]).unsqueeze(0)
            out = curved * mask + img * (1 - mask)
        tensors = {f"p{k + 1}": p[0].contiguous() for k, p in enumerate(ps)}
        tensors.update({"lut": lut[0].contiguous(), "output": to8(out)[0].permute(1, 2, 0).contiguous()})
        save_file(tensors, os.path.join(OUT, f"{fixture}-expected.safetensors"),
                  metadata={"label": "animal" if variant == "semantic" else "", "stages": str(len(ps))})
        bend = float((lut[0] - torch.linspace(0, 1, 256)).abs().max())
        steepest = float((ps[-1] * ps[-1].shape[-1]).max())
        print(f"{fixture}: {len(ps)} stage(s), largest curve bend {bend:.3f}, ends {ps[-1][0].sum(-1).tolist()}, steepest piece {steepest:.2f}")


if __name__ == "__main__":
    main()
