"""The training loop: synthetic composites in, curve heads and backbone trained from scratch.

Loss on the 256x256 output: MSE over the whole image plus a foreground-normalised MSE (squared error
over the mask / mask area), so small objects count, plus a smoothness term on the curves (slopes
above `slope_max` and the slopes' second differences), so that they do not amplify noise, plus a
texture term: the foreground-normalised MSE of the images' high frequencies (each minus its 3x3 box
blur), which asks the curve's local slope to give the grain and texture the real photo's contrast,
neither more nor less (the pixel MSE is ~100x larger and barely sees it), plus a foreground-slope
term: the applied table's slope above `fg_slope_max` at the levels where the foreground has pixels
(curve_quality's slope measure made a loss). Adam with a linear warm-up and a cosine decay;
an EMA of the weights is what gets shipped. Checkpoints every `ckpt_every` steps (resumable after any
stop, including the RNG states), losses and validation to a CSV.

    python3 train.py --run runs/base
"""
import argparse
import copy
import csv
import math
import os
import time
from dataclasses import asdict, dataclass

import torch

import curve_quality
import data
from export import load
from model import ModelConfig, S2CRNet, compose_luts, harmonize, slopes


@dataclass
class TrainConfig:
    steps: int = 4000               # ~1.5 h at batch 16 on 2 CPU cores (~1.3 s a step)
    batch: int = 16
    lr: float = 3e-4
    warmup: int = 500
    weight_decay: float = 1e-4
    fg_weight: float = 1.0          # weight of the foreground-normalised term
    ema: float = 0.999
    ckpt_every: int = 250
    val_every: int = 500
    val_samples: int = 128
    threads: int = 2
    seed: int = 0
    stop_at: int = 0                # stop early at this step with the schedule of `steps` (ablations)
    init: str = ""                  # start from this checkpoint's raw weights (a new schedule, step 0)
    device: str = "cpu"             # "cuda" where a GPU is at hand; the recipe is the same
    workers: int = 0                # data in this many worker processes (0: in the training loop)
    time_budget: float = 0.0        # seconds: after 100 steps, set `steps` to what fits in this time
    snapshot_every: int = 0         # also keep stepN.pt (weights only) every this many steps
    slope_max: float = 2.0          # curve slopes (levels per level) above this are penalised...
    slope_weight: float = 0.0       # ...by this times the mean squared excess
    curvature_weight: float = 0.0   # and the slopes' second differences by this times their mean square
    texture_weight: float = 0.0     # weight of the high-frequency fMSE (texture contrast as the real photo's)
    fg_slope_max: float = 2.0       # slopes of the applied (composed) table above this, where the foreground
    fg_slope_weight: float = 0.0    # has pixels, are penalised by this times the histogram-weighted squared excess
    slope_bound: float = 0.0        # > 0: the model's pieces are bent below this slope by construction (format 3)
    slope_knee: float = 1.0         # ...starting at this slope


def errors(out, real, mask):
    """MSE over the whole image and foreground-normalised MSE (squared error over the mask / 3 x mask
    area), each the mean over the batch, in 0..1 units."""
    err = (out - real) ** 2
    area = mask.sum((1, 2, 3)).clamp(min=1)
    return err.mean(), ((err * mask).sum((1, 2, 3)) / (3 * area)).mean()


def texture_error(out, real, mask):
    """fMSE of the high frequencies (curve_quality.high_pass) of the output against the real photo."""
    return errors(curve_quality.high_pass(out), curve_quality.high_pass(real), mask)[1]


def roughness(ps, slope_max):
    """Mean squared excess of the pieces' slopes over slope_max, and mean squared second difference
    of the slopes: the two ways a curve amplifies noise (one steep stretch, or ripples)."""
    excess = curvature = 0.0
    for s in map(slopes, ps):
        excess = excess + torch.relu(s - slope_max).pow(2).mean()
        curvature = curvature + (s[..., 2:] - 2 * s[..., 1:-1] + s[..., :-2]).pow(2).mean()
    return excess, curvature


def foreground_slope_excess(ps, image, mask, slope_max):
    """The squared excess over slope_max of the applied table's local slope (curve_quality's measure,
    the stages composed) at the foreground's own levels, weighted by the foreground's histogram per
    channel: the smooth form of the slope p99 of the model card. roughness() bounds each stage's
    pieces alone, everywhere; two stages within it can still compose to twice the slope, and it says
    nothing about where the pixels are."""
    lut = compose_luts(ps, 256)
    excess = torch.relu(curve_quality.local_slopes(lut) - slope_max).pow(2)          # (B, 3, 256)
    hist = curve_quality.foreground_histogram(image, mask, 256, excess.dtype)
    hist = hist / hist.sum(-1, keepdim=True).clamp(min=1)
    return (hist * excess).sum(-1).mean()


def losses(model, b, cfg=None, with_curves=False):
    """MSE, fMSE and the curves' roughness, texture and foreground-slope terms, weighted (0 without a config), and the
    output (and the curves)."""
    ps = model(b["fg_img"], b["fg_mask"], b["bg_img"], b["bg_mask"])
    out = b["bg_img"]
    for p in ps:
        out = harmonize(out, b["bg_mask"], p)
    mse, fmse = errors(out, b["real"], b["bg_mask"])
    rough = 0.0
    if cfg is not None and (cfg.slope_weight or cfg.curvature_weight):
        excess, curvature = roughness(ps, cfg.slope_max)
        rough = cfg.slope_weight * excess + cfg.curvature_weight * curvature
    if cfg is not None and cfg.texture_weight:
        rough = rough + cfg.texture_weight * texture_error(out, b["real"], b["bg_mask"])
    if cfg is not None and cfg.fg_slope_weight:
        rough = rough + cfg.fg_slope_weight * foreground_slope_excess(ps, b["bg_img"], b["bg_mask"], cfg.fg_slope_max)
    return (mse, fmse, rough, out) + ((ps,) if with_curves else ())


class Batches(torch.utils.data.IterableDataset):
    """Endless batches from worker processes, each with its own stream of composites."""

    def __init__(self, paths, data_cfg, cfg, seed):
        self.paths, self.data_cfg, self.cfg, self.seed = paths, data_cfg, cfg, seed

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        torch.set_num_threads(1)
        source = data.Composites(self.paths, self.data_cfg, seed=self.seed + 7919 * (info.id if info else 0))
        while True:
            yield data.batch(source, self.cfg.batch)


def learning_rate(cfg, step):
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0))))


@torch.no_grad()
def validate(model, val_batches, strengths=(1.0,)):
    """Mean MSE and fMSE in 0..255 units over the fixed validation set, and those of the composites:
    one dict per strength, from one forward pass. A strength below 1 weakens the curves toward the
    identity as `harmonize --strength` does (the blend of two curves is the blend of their outputs).
    The curves' 99th-percentile slope at the foreground's levels and the noise gain (curve_quality;
    16 px blocks at 256, 64 px of the 1024 px work size) come with strength 1, and the noise gain of
    the real photos over the composites (ideal_noise_p90: a perfect model's)."""
    tots = [{"mse": 0.0, "fmse": 0.0, "comp_mse": 0.0, "comp_fmse": 0.0} for _ in strengths]
    pool, ideal = curve_quality.Pool(), curve_quality.Pool()
    for b in val_batches:
        _, _, _, out, ps = losses(model, b, with_curves=True)
        luts = compose_luts(ps, 256)
        for i in range(len(out)):
            pool.add(b["bg_img"][i].cpu(), b["bg_mask"][i].cpu(), luts[i].cpu(), out[i].cpu(), block=16)
            # The real photo's own gain over the composite: what a perfect model would show.
            ideal.add_noise(b["bg_img"][i].cpu(), b["bg_mask"][i].cpu(), b["real"][i].cpu(), block=16)
        comp_mse, comp_fmse = errors(b["bg_img"], b["real"], b["bg_mask"])
        for s, tot in zip(strengths, tots):
            mse, fmse = errors(out if s == 1 else b["bg_img"] + s * (out - b["bg_img"]), b["real"], b["bg_mask"])
            for k, v in (("mse", mse), ("fmse", fmse), ("comp_mse", comp_mse), ("comp_fmse", comp_fmse)):
                tot[k] += float(v) * 255 ** 2
    scores = [{k: v / len(val_batches) for k, v in tot.items()} for tot in tots]
    for s, tot in zip(strengths, scores):
        if s == 1:
            tot.update(slope_p99=pool.slope_p99(), noise_p90=pool.noise_gain_p90(), guard=pool.guard_share(),
                       ideal_noise_p90=ideal.noise_gain_p90())
    return scores


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default=os.path.join(data.HERE, "runs", "base"))
    for f, v in asdict(TrainConfig()).items():
        ap.add_argument(f"--{f.replace('_', '-')}", type=type(v), default=v)
    ap.add_argument("--data", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a data.DataConfig field (ablations), e.g. --data feather_share=0")
    args = ap.parse_args()
    cfg = TrainConfig(**{f: getattr(args, f) for f in asdict(TrainConfig())})
    data_cfg = data.override(data.DataConfig(), args.data)
    torch.set_num_threads(cfg.threads)
    os.makedirs(args.run, exist_ok=True)
    ckpt_path = os.path.join(args.run, "last.pt")

    model_cfg = ModelConfig(slope_bound=cfg.slope_bound, slope_knee=cfg.slope_knee)
    model = S2CRNet(model_cfg)
    torch.manual_seed(cfg.seed)
    resume = os.path.exists(ckpt_path)
    if cfg.init and not resume and cfg.init.endswith(".safetensors"):
        model.load_state_dict(load(cfg.init, free_end=model_cfg.free_end).state_dict())   # a format 1 file grows end values at 1
        print(f"starting from the exported weights of {cfg.init}")
    elif cfg.init and not resume:
        ck = torch.load(cfg.init, map_location="cpu", weights_only=False)
        missing, _ = model.load_state_dict(ck["model"], strict=False)
        assert all(".end_" in k for k in missing), missing
        print(f"starting from the weights of {cfg.init} (step {ck['step']})")
    ema = copy.deepcopy(model).eval()
    step, elapsed = 0, 0.0
    if resume:
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=False)
        model.load_state_dict(ck["model"])
        ema.load_state_dict(ck["ema"])
        step, elapsed = ck["step"], ck["elapsed"]
        torch.set_rng_state(ck["torch_rng"])
        if ck["train_config"].get("time_budget"):
            cfg.steps = ck["train_config"]["steps"]  # the time budget fixed it in the first session
        print(f"resumed at step {step} ({elapsed / 3600:.2f} h so far)")
    device = torch.device(cfg.device)
    model.to(device)
    ema.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)   # after .to(device)
    if resume:
        opt.load_state_dict(ck["opt"])

    train_paths, val_paths = data.split(data_cfg)
    seed = cfg.seed * 1000003 + step               # new draws after a resume
    if cfg.workers:
        loader = iter(torch.utils.data.DataLoader(Batches(train_paths, data_cfg, cfg, seed), batch_size=None,
                                                  num_workers=cfg.workers, pin_memory=device.type == "cuda",
                                                  prefetch_factor=4, persistent_workers=True))
        next_batch = lambda: next(loader)
    else:
        source = data.Composites(train_paths, data_cfg, seed=seed)
        next_batch = lambda: data.batch(source, cfg.batch)
    val_batches = []                               # the same set every time (none from a pack: validate here)
    if val_paths:
        val_source = data.Composites(val_paths, data.VALIDATION_SETS["main"], seed=12345)
        with torch.random.fork_rng():
            torch.manual_seed(12345)
            val_batches = [data.batch(val_source, 16) for _ in range(max(1, cfg.val_samples // 16))]
    val_batches = [{k: v.to(device) for k, v in b.items()} for b in val_batches]

    log_path = os.path.join(args.run, "log.csv")
    if os.path.exists(log_path):                   # drop rows logged after the checkpoint we resumed from
        with open(log_path) as f:
            rows = f.read().splitlines()
        kept = [r for r in rows if not r[:1].isdigit() or int(r.split(",")[0]) <= step]
        with open(log_path, "w") as f:
            f.write("".join(r + "\n" for r in kept))
    new_log = not os.path.exists(log_path) or os.path.getsize(log_path) == 0
    log = open(log_path, "a", newline="")
    writer = csv.writer(log)
    if new_log:
        writer.writerow(["step", "hours", "lr", "loss", "mse", "fmse", "rough", "val_mse", "val_fmse", "val_comp_mse", "val_comp_fmse"])

    def save():
        tmp = ckpt_path + ".tmp"
        torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict(), "step": step,
                    "elapsed": elapsed, "torch_rng": torch.get_rng_state(), "config": asdict(model_cfg),
                    "train_config": asdict(cfg), "data_config": asdict(data_cfg)}, tmp)
        os.replace(tmp, ckpt_path)                 # a stop mid-save never corrupts the checkpoint

    model.train()
    start, start_step = time.time(), step
    while step < (cfg.stop_at or cfg.steps):
        t0 = time.time()
        b = {k: v.to(device, non_blocking=True) for k, v in next_batch().items()}
        lr = learning_rate(cfg, step)
        for g in opt.param_groups:
            g["lr"] = lr
        mse, fmse, rough, _ = losses(model, b, cfg)
        loss = mse + cfg.fg_weight * fmse + rough
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for pe, pm in zip(ema.parameters(), model.parameters()):
                pe.lerp_(pm, 1 - cfg.ema)
        step += 1
        elapsed += time.time() - t0
        row = [step, f"{elapsed / 3600:.4f}", f"{lr:.2e}", f"{float(loss.detach()):.6f}", f"{float(mse.detach()) * 255 ** 2:.2f}",
               f"{float(fmse.detach()) * 255 ** 2:.2f}", f"{float(rough.detach() if torch.is_tensor(rough) else rough):.6f}", "", "", "", ""]
        if cfg.time_budget and start_step == 0 and step == 20:
            t20 = time.time()                      # data workers warmed up
        if cfg.time_budget and start_step == 0 and step == 120:
            rate = 100 / (time.time() - t20)
            cfg.steps = max(step + 1, int(rate * (cfg.time_budget - (time.time() - start))) + step)
            print(f"{rate:.1f} steps/s: the schedule is {cfg.steps} steps", flush=True)
        if val_batches and (step % cfg.val_every == 0 or step == cfg.steps or step == cfg.stop_at):
            [v] = validate(ema, val_batches)
            row[7:] = [f"{v['mse']:.2f}", f"{v['fmse']:.2f}", f"{v['comp_mse']:.2f}", f"{v['comp_fmse']:.2f}"]
            print(f"step {step} val mse {v['mse']:.1f} fmse {v['fmse']:.1f} (composites {v['comp_mse']:.1f} / {v['comp_fmse']:.1f})", flush=True)
        writer.writerow(row)
        log.flush()
        if step % cfg.ckpt_every == 0 or step == cfg.steps or step == cfg.stop_at:
            save()
            print(f"step {step}: loss {float(loss.detach()):.5f}, {elapsed / 3600:.3f} h", flush=True)
        if cfg.snapshot_every and step % cfg.snapshot_every == 0:
            snap = os.path.join(args.run, f"step{step}.pt")
            torch.save({"model": model.state_dict(), "ema": ema.state_dict(), "step": step, "config": asdict(model_cfg)},
                       snap + ".tmp")
            os.replace(snap + ".tmp", snap)        # whole or absent, for a validate.py that watches the run
    save()


if __name__ == "__main__":
    main()
