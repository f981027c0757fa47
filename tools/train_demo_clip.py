"""Train the demo CLIP model contrastively on frames and captions from the synthetic city.

No pretrained CLIP weights can be fetched where citybrain is built, so the demo model is a
tiny open_clip architecture (citybrain/vision/clip.py: TINY_CONFIG) trained from scratch on
rendered frames paired with captions of what the renderer drew (citybrain/sim/captions.py).
Frames that show the same set of categories are all positives of each other in the
contrastive loss (many frames share a caption's meaning, and treating them as negatives
would teach the model nothing true). Evaluation is zero-shot: held-out frames showing one
category are classified with the taxonomy's own `clip_prompts`, which training never saw.

    nice -n 10 python tools/train_demo_clip.py --train 3000 --val 400 --minutes 10

With `--real` the labelled real photos under ../shared/datasets join the training frames
(their train split; each captioned with the one category its labels name), and zero-shot top-1
is reported on their fixed validation split too (the number that matters for real cameras).

Writes models/demo/citybrain-clip-tiny.pt and models/demo/citybrain-clip-tiny.metrics.json.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
RENDER_W, RENDER_H = 448, 252  # 16:9 like the cameras, then squashed to 224x224


def render_split(city, split: str, n: int, seed: int):  # type: ignore[no-untyped-def]
    """Frames (uint8 [n,224,224,3] BGR), shown categories per frame, night flags."""
    import cv2

    from citybrain.sim.captions import visible_categories
    from citybrain.sim.dataset import plan_frames
    from citybrain.sim.render import is_night, render_annotated
    from citybrain.vision.clip import IMAGE_SIZE

    classes_of = {c.id: c.detector_classes for c in city.categories}
    images = np.empty((n, IMAGE_SIZE, IMAGE_SIZE, 3), np.uint8)
    shown: list[list[str]] = []
    night: list[bool] = []
    for i, plan in enumerate(plan_frames(city, split, n, seed)):
        img, boxes = render_annotated(
            plan.camera, plan.events, plan.t, RENDER_W, RENDER_H, plan.noise_rng()
        )
        images[i] = cv2.resize(img, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA)
        cats = sorted(e.category for e in plan.events)
        shown.append(visible_categories(cats, boxes, classes_of))
        night.append(is_night(plan.t, plan.camera.lon))
    return images, shown, night


def real_split(city, split: str):  # type: ignore[no-untyped-def]
    """Real photos of one category each (uint8 [n,224,224,3] BGR) and their categories."""
    import cv2
    import yaml

    from citybrain.vision.clip import IMAGE_SIZE
    from citybrain.vision.training_data import (
        BuildReport,
        read_source,
        real_sources,
        scene_category,
        split_of,
    )

    names = yaml.safe_load((ROOT / "models" / "demo" / "citybrain-yolov5n-city.yaml").read_text())
    category_of = {cls: c.id for c in city.categories for cls in c.detector_classes}
    shared = ROOT.parent / "shared" / "datasets"
    images, shown = [], []
    for src in real_sources(shared, ROOT / "config" / "datasets", names["names"]):
        for item in read_source(src, BuildReport()):
            cat = scene_category(item, category_of)
            if cat is None or split_of(item.image.name) != split:
                continue
            img = cv2.imread(str(item.image))
            if img is None:  # unreadable: skipped, as the detector's data loader skips it
                continue
            images.append(cv2.resize(img, (IMAGE_SIZE, IMAGE_SIZE), interpolation=cv2.INTER_AREA))
            shown.append([cat])
    if not images:
        raise SystemExit(f"no real photos under {shared}")
    return np.stack(images), shown


def to_input(images_bgr: np.ndarray) -> torch.Tensor:
    from citybrain.vision.clip import CLIP_MEAN, CLIP_STD

    rgb = images_bgr[..., ::-1].astype(np.float32) / 255.0
    return torch.from_numpy(((rgb - CLIP_MEAN) / CLIP_STD).transpose(0, 3, 1, 2).copy())


def contrastive_loss(
    img: torch.Tensor, txt: torch.Tensor, scale: torch.Tensor, keys: list[tuple[str, ...]]
) -> torch.Tensor:
    """CLIP's symmetric cross-entropy with every same-meaning pair as a positive."""
    same = torch.tensor([[a == b for b in keys] for a in keys], dtype=torch.float32)
    target = same / same.sum(dim=1, keepdim=True)
    logits = scale * img @ txt.T
    i2t = -(target * logits.log_softmax(dim=1)).sum(dim=1).mean()
    t2i = -(target.T * logits.T.log_softmax(dim=1)).sum(dim=1).mean()
    return (i2t + t2i) / 2


def zero_shot(model: nn.Module, city, images, shown, settings) -> dict:  # type: ignore[no-untyped-def]
    """Top-1 over the taxonomy's prompt ensembles on frames that show exactly one category."""
    from citybrain.vision.clip import embed_images
    from citybrain.vision.scene import ZeroShotHead

    head = ZeroShotHead.from_city(city, model, settings)
    single = [i for i, s in enumerate(shown) if len(s) == 1 and s[0] in head.categories]
    calm = [i for i, s in enumerate(shown) if not s]
    emb = np.concatenate(
        [
            embed_images(model, to_input(images[j : j + 256]).numpy())
            for j in range(0, len(images), 256)
        ]
    )
    scores = head.score(emb)
    per_cat: dict[str, list[int]] = {c: [0, 0] for c in head.categories}
    for i in single:
        truth = shown[i][0]
        per_cat[truth][1] += 1
        per_cat[truth][0] += int(scores[i].top == truth)
    hits = sum(v[0] for v in per_cat.values())
    calm_ok = sum(int(scores[i].background > max(scores[i].scores.values())) for i in calm)
    at_half = [{c for c, p in scores[i].scores.items() if p >= 0.5} for i in range(len(scores))]
    shown_ok = sum(int(at_half[i] == {shown[i][0]}) for i in single)
    return {
        "zero_shot_top1": round(hits / max(1, len(single)), 4),
        "chance": round(1 / len(head.categories), 4),
        "single_category_frames": len(single),
        "top1_per_category": {
            c: round(v[0] / v[1], 4) if v[1] else None for c, v in per_cat.items()
        },
        "calm_frames": len(calm),
        "calm_top1_background": round(calm_ok / max(1, len(calm)), 4),
        # categories scoring 0.5 or more are exactly the one shown
        "exactly_right_at_threshold": round(shown_ok / max(1, len(single)), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--train", type=int, default=3000, help="training frames to render")
    ap.add_argument("--val", type=int, default=400, help="held-out frames to render")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--minutes", type=float, default=10.0, help="training time budget")
    ap.add_argument("--max-epochs", type=int, default=40)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1, help="more threads only help on idle cores")
    ap.add_argument("--out", type=Path, default=ROOT / "models" / "demo")
    ap.add_argument(
        "--init", type=Path, default=None, help="continue from this checkpoint (and its metrics)"
    )
    ap.add_argument("--real", action="store_true", help="train on the real photos in ../shared too")
    args = ap.parse_args()

    from citybrain.city_loading import load_all
    from citybrain.sim.captions import caption
    from citybrain.vision.clip import (
        TINY_CONFIG,
        build_clip,
        context_length,
        encode_images,
        load_clip,
        save_clip,
        tokenize,
    )

    torch.set_num_threads(args.threads)
    settings, city = load_all(ROOT / "config" / "citybrain.yaml")
    t0 = time.time()
    tr_img, tr_shown, tr_night = render_split(city, "train", args.train, args.seed)
    va_img, va_shown, _ = render_split(city, "val", args.val, args.seed)
    n_real = 0
    if args.real:
        real_img, real_shown = real_split(city, "train")
        rv_img, rv_shown = real_split(city, "val")
        n_real = len(real_img)
        tr_img = np.concatenate([tr_img, real_img])
        tr_shown = [*tr_shown, *real_shown]
        tr_night = [*tr_night, *([False] * n_real)]
    t_data = time.time() - t0
    print(f"rendered {args.train}+{args.val} frames, {n_real} real, in {t_data:.0f}s", flush=True)
    n_train = len(tr_img)

    stages: list[dict] = []
    if args.init:
        model, _ = load_clip(args.init)
        model.train()
        prior = args.init.with_name(args.init.name.replace(".pt", ".metrics.json"))
        if prior.exists():
            old = json.loads(prior.read_text())
            stages = [*old.get("earlier_stages", []), {"recipe": old["recipe"], "val": old["val"]}]
    else:
        model = build_clip(TINY_CONFIG, seed=args.seed).train()
    ctx = context_length(model)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.05)
    rng = np.random.default_rng(args.seed)
    steps_per_epoch = n_train // args.batch
    budget = args.minutes * 60
    t0 = time.time()
    step, epoch, history = 0, 0, []
    while epoch < args.max_epochs and time.time() - t0 < budget:
        order = rng.permutation(n_train)
        total = 0.0
        for b in range(steps_per_epoch):
            idx = order[b * args.batch : (b + 1) * args.batch]
            x = to_input(tr_img[idx])
            if rng.random() < 0.5:  # mirror: a bin on the right is still a bin
                x = x.flip(-1)
            texts = [caption(tr_shown[i], tr_night[i], rng) for i in idx]
            keys = [tuple(tr_shown[i]) for i in idx]
            # cosine decay over the time budget, short warm-up
            frac = min(1.0, (time.time() - t0) / budget)
            lr = args.lr * min(1.0, (step + 1) / 50) * 0.5 * (1 + math.cos(math.pi * frac))
            for g in opt.param_groups:
                g["lr"] = lr
            img_f = nn.functional.normalize(encode_images(model, x), dim=-1)
            txt_f = nn.functional.normalize(
                model.encode_text(tokenize(texts, ctx)),  # type: ignore[operator]
                dim=-1,
            )
            scale: torch.Tensor = model.logit_scale  # type: ignore[assignment]
            loss = contrastive_loss(img_f, txt_f, scale.exp(), keys)
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                scale.clamp_(0, math.log(100))
            total += float(loss.detach())
            step += 1
        epoch += 1
        model.eval()
        zs = zero_shot(model, city, va_img, va_shown, settings.vision.clip)["zero_shot_top1"]
        if args.real:
            real_zs = zero_shot(model, city, rv_img, rv_shown, settings.vision.clip)
            print(f"real val zero-shot top-1 {real_zs['zero_shot_top1']:.3f}", flush=True)
        model.train()
        history.append({"epoch": epoch, "loss": round(total / steps_per_epoch, 4), "val_top1": zs})
        print(
            f"epoch {epoch} loss {total / steps_per_epoch:.3f} zero-shot top-1 {zs:.3f} "
            f"({time.time() - t0:.0f}s)",
            flush=True,
        )
    t_train = time.time() - t0
    model.eval()
    metrics = zero_shot(model, city, va_img, va_shown, settings.vision.clip)
    real_metrics = (
        zero_shot(model, city, rv_img, rv_shown, settings.vision.clip) if args.real else None
    )
    n_params = sum(p.numel() for p in model.parameters())
    report = {
        "architecture": "open_clip CLIP, tiny ViT-32 image tower + 2-layer text transformer",
        "config": TINY_CONFIG,
        "parameters": n_params,
        "data": {
            "train_frames": args.train,
            "val_frames": args.val,
            "real_train_photos": n_real,
            "real": "labelled photos of ../shared/datasets (CC BY 4.0), fixed 15 % validation split"
            if args.real
            else None,
            "seed": args.seed,
            "render_size": [RENDER_W, RENDER_H],
            "render_s": round(t_data, 1),
        },
        "recipe": {
            "loss": "symmetric contrastive, same category set = positive",
            "batch": args.batch,
            "lr": args.lr,
            "epochs": epoch,
            "steps": step,
            "threads": args.threads,
            "train_s": round(t_train, 1),
            "augment": "horizontal mirror; random caption phrasing",
        },
        "val": metrics,
        "val_real": real_metrics,
        "history": history,
        "earlier_stages": stages,
    }
    out = args.out / "citybrain-clip-tiny.pt"
    save_clip(model, out, TINY_CONFIG, {"metrics": metrics["zero_shot_top1"], "seed": args.seed})
    (args.out / "citybrain-clip-tiny.metrics.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("parameters", "val")}, indent=2))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
