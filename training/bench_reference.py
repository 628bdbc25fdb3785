"""PyTorch side of `make bench`: the same model's CPU forward on two 256x256 thumbnails, the
thumbnails of a 3840x2160 8-bit frame (the reference preparation, from the 8-bit samples), and the
reference way of applying curves to such a frame (the loop over the 64 pieces of the formula).
Prints "name value" lines in milliseconds (medians)."""
import sys
import time

import torch
from export import load
from model import ModelConfig, prepare_thumbnails


def median_ms(runs, fn):
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return sorted(times)[runs // 2]


def main():
    path, threads = sys.argv[1], int(sys.argv[2])
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    torch.set_num_threads(threads)
    model = load(path)
    variant = model.cfg.variant
    fg, bg = torch.rand(1, 3, 256, 256), torch.rand(1, 3, 256, 256)
    m = torch.rand(1, 1, 256, 256)
    with torch.inference_mode():
        print("torch_inference_ms", median_ms(runs, lambda: model(fg, m, bg, m)))
        # The formula as written: y = min(1, sum_i clamp(x - i/K, 0, 1/K) * K d_i), at 4K.
        img = torch.rand(1, 3, 2160, 3840)
        mask = torch.rand(1, 1, 2160, 3840)
        p = model(fg, m, bg, m)[0]
        K = p.shape[-1]

        def render():
            y = torch.zeros_like(img)
            for i in range(K):
                y += (img - i / K).clamp(0, 1 / K) * p[:, :, i].view(1, 3, 1, 1)
            y = (y * K).clamp(max=1)
            return y * mask + img * (1 - mask)
        print("torch_render_4k_ms", median_ms(max(3, runs // 5), render))
        # engine-bench's frame: a gradient, and an elliptical soft mask over a third of it.
        h, w = 2160, 3840
        y, x = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        img8 = torch.stack([x * 255 // w, y * 255 // h, (x + y) % 256]).to(torch.uint8).unsqueeze(0)
        d = ((x - w // 2) / (w // 3)) ** 2 + ((y - h // 2) / (h // 3)) ** 2
        mask8 = ((1 - d) * 1024).clamp(0, 255).to(torch.uint8).view(1, 1, h, w)
        cfg = ModelConfig(variant=variant)
        print("torch_thumbnails_4k_ms", median_ms(max(3, runs // 4),
                                                 lambda: prepare_thumbnails(img8.float() / 255, mask8.float() / 255, cfg)))


if __name__ == "__main__":
    main()
