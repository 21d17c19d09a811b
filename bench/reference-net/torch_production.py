#!/usr/bin/env python3
"""PyTorch counterparts of the production models (production.ts beside this file), for `rir bench --torch`
with the production modes (small-cnn:train, small-cnn:panum7, small-cnn:infer, mobilenetv2-early:train,
mobilenetv2-early:infer).

The same layers (src/ml/models: small-cnn.ts, mobilenet-v2.ts cut at block_6_expand_relu), loss (batch-hard
triplet, margin 0.2, mined on the batch's distances, then the mean hinge over the mined triplets' row
distances, src/ml/losses), robust step (panum: anchors perturbed by 7 PGD steps in inference mode against
natural positives and negatives, then natural loss + adversarial triplet loss, src/ml/defenses/panum.ts),
batch (128 as whole classes of PER_CLASS; inference 256), Adam (lr 1e-3, eps 1e-7: tfjs's), timing rule
(median of REPS after WARMUP) and intra-op threads as the tfjs side's workers. Weights are random: only
speed is compared (the tfjs MobileNetV2 starts from nsfwjs's pretrained weights).

Usage: python3 torch_production.py --model small-cnn|mobilenetv2-early [--size N] [--batch B]
         [--per-class M] [--infer-batch B] [--modes train,panum7,infer] [--threads T] [--reps R]
         [--warmup W] [--describe] [--device cpu|cuda]
Prints one JSON line per mode: {"mode", "B", "height", "channels", "median_ms", "img_per_s", "threads"};
--describe prints the model's weight counts instead (all weights, trainable ones, layers with weights).
"""
import argparse
import json
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as error:  # `rir bench --torch` checks this first; this is for direct use
    sys.exit(f"torch_production.py needs PyTorch ({error}): pip install torch, "
             "or apt-get install python3-torch on Debian")

EMBEDDING_DIM = 128
MARGIN = 0.2
LEARNING_RATE = 1e-3
ADAM_EPSILON = 1e-7  # tfjs's default, which the trainer's tf.train.adam uses
PANUM_STEPS = 7
PANUM_EPS = 8 / 255
PANUM_ALPHA = 2.5 * PANUM_EPS / PANUM_STEPS
PANUM_WEIGHT = 1.0


def keras_bn(channels, momentum, dims=2):
    """Keras batch norm (epsilon 1e-3; its momentum m is PyTorch's 1 - m)."""
    cls = nn.BatchNorm2d if dims == 2 else nn.BatchNorm1d
    return cls(channels, eps=1e-3, momentum=1 - momentum)


def l2_normalize(x):
    """As l2Normalize in embedding-model.ts: x / sqrt(max(sum x^2, 1e-12))."""
    return x / (x * x).sum(dim=1, keepdim=True).clamp_min(1e-12).sqrt()


class SmallCnn(nn.Module):
    """buildSmallCnn: three blocks of conv 3x3 'same' without bias (32, 64, 128), batch norm, ReLU,
    max-pool 2x2 stride 2 'same' (ceil mode: 28 -> 14 -> 7 -> 4); flatten, batch norm, dense 128."""

    def __init__(self, size, channels=1):
        super().__init__()
        layers, in_channels = [], channels
        for filters in (32, 64, 128):
            layers += [nn.Conv2d(in_channels, filters, 3, padding=1, bias=False),
                       keras_bn(filters, 0.99), nn.ReLU(),
                       nn.MaxPool2d(2, 2, ceil_mode=True)]
            in_channels = filters
            size = -(-size // 2)
        self.features = nn.Sequential(*layers)
        self.head_bn = keras_bn(in_channels * size * size, 0.99, dims=1)
        self.embedding = nn.Linear(in_channels * size * size, EMBEDDING_DIM)

    def forward(self, x):
        return l2_normalize(self.embedding(self.head_bn(self.features(x).flatten(1))))


class InvertedResidual(nn.Module):
    """A MobileNetV2 block as Keras builds it: 1x1 expand + BN + ReLU6 (not in the first block), 3x3
    depthwise (stride 2: zero-pad right/bottom by one, 'valid') + BN + ReLU6, 1x1 project + BN, and the
    residual add when the shape is kept. expand_only: the cut at block_6_expand_relu."""

    def __init__(self, in_channels, expansion, out_channels, stride, expand_only=False):
        super().__init__()
        hidden = in_channels * expansion
        self.stride = stride
        self.expand = None
        if expansion != 1:
            self.expand = nn.Sequential(nn.Conv2d(in_channels, hidden, 1, bias=False),
                                        keras_bn(hidden, 0.999), nn.ReLU6())
        self.expand_only = expand_only
        if expand_only:
            return
        self.depthwise = nn.Sequential(
            nn.Conv2d(hidden, hidden, 3, stride=stride, padding=1 if stride == 1 else 0,
                      groups=hidden, bias=False),
            keras_bn(hidden, 0.999), nn.ReLU6())
        self.project = nn.Sequential(nn.Conv2d(hidden, out_channels, 1, bias=False),
                                     keras_bn(out_channels, 0.999))
        self.residual = stride == 1 and in_channels == out_channels

    def forward(self, x):
        y = self.expand(x) if self.expand is not None else x
        if self.expand_only:
            return y
        if self.stride == 2:
            y = F.pad(y, (0, 1, 0, 1))
        y = self.project(self.depthwise(y))
        return x + y if self.residual else y


class MobileNetV2Early(nn.Module):
    """The nsfwjs MobileNetV2 (width 1.0) up to block_6_expand_relu (stride 8, 192 channels), flattened,
    then batch norm and dense 128 (buildMobileNetV2 with variant 'early'). As in tfjs, the backbone's
    weights are frozen (nsfwjs's model config marks those layers not trainable: only the head trains) while
    its batch norms still follow the training flag (batch statistics, moving averages updated)."""

    def __init__(self, size, channels=3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(channels, 32, 3, stride=2, bias=False),
                                  keras_bn(32, 0.999), nn.ReLU6())
        self.blocks = nn.Sequential(
            InvertedResidual(32, 1, 16, 1),    # expanded_conv
            InvertedResidual(16, 6, 24, 2),    # block_1
            InvertedResidual(24, 6, 24, 1),    # block_2
            InvertedResidual(24, 6, 32, 2),    # block_3
            InvertedResidual(32, 6, 32, 1),    # block_4
            InvertedResidual(32, 6, 32, 1),    # block_5
            InvertedResidual(32, 6, 64, 2, expand_only=True),  # block_6_expand(_relu)
        )
        features = 192 * (size // 8) ** 2
        self.head_bn = keras_bn(features, 0.99, dims=1)
        self.embedding = nn.Linear(features, EMBEDDING_DIM)
        for parameter in [*self.stem.parameters(), *self.blocks.parameters()]:
            parameter.requires_grad_(False)

    def forward(self, x):
        x = self.stem(F.pad(x, (0, 1, 0, 1)))  # Conv1_pad, then the 'valid' stride-2 Conv1
        return l2_normalize(self.embedding(self.head_bn(self.blocks(x).flatten(1))))


MODELS = {"small-cnn": (SmallCnn, 1), "mobilenetv2-early": (MobileNetV2Early, 3)}


def distances_within(e):
    """distancesWithin (src/ml/distances.ts): relu'd squared distances, floored, rooted, zero diagonal."""
    squared_norms = (e * e).sum(dim=1)
    squared = F.relu(squared_norms[:, None] + squared_norms[None, :] - 2 * e @ e.T)
    off_diagonal = 1 - torch.eye(len(e), device=e.device)
    return squared.clamp_min(1e-16).sqrt() * off_diagonal


def mine_batch_hard(distances, labels):
    """mineBatchHard: per anchor its farthest positive and nearest negative (values only, no gradient)."""
    same = labels[:, None] == labels[None, :]
    positive = same & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device)
    negative = ~same
    hardest_positive = distances.masked_fill(~positive, float("-inf")).argmax(dim=1)
    hardest_negative = distances.masked_fill(~negative, float("inf")).argmin(dim=1)
    anchors = torch.nonzero(positive.any(dim=1) & negative.any(dim=1)).flatten()
    return anchors, hardest_positive[anchors], hardest_negative[anchors]


def row_distances(a, b):
    """rowDistances: sqrt(max(sum (a - b)^2, 1e-12)) per row."""
    return ((a - b) ** 2).sum(dim=1).clamp_min(1e-12).sqrt()


def triplet_margin_loss(anchors, positives, negatives, margin=MARGIN):
    return F.relu(row_distances(anchors, positives) - row_distances(anchors, negatives) + margin).mean()


def batch_hard_triplet_loss(embeddings, labels):
    """createLoss('triplet'): batch-hard triplets mined on the batch's distances, then the mean hinge."""
    with torch.no_grad():
        a, p, n = mine_batch_hard(distances_within(embeddings), labels)
    return triplet_margin_loss(embeddings[a], embeddings[p], embeddings[n])


def pgd_anchors(net, x0, positives, negatives):
    """The inner maximisation as pgd() runs it for panum: the objective -(d(a~,p) - d(a~,n)) per anchor,
    the clean objective, a uniform random start in the eps ball, PANUM_STEPS signed steps (with the
    gradient health count pgd() keeps), projection onto the ball and [0, 1], and the final objective."""
    def objective(x):
        e = net(x)
        return -(row_distances(e, positives) - row_distances(e, negatives))

    with torch.no_grad():
        objective(x0)
        x = (x0 + torch.empty_like(x0).uniform_(-PANUM_EPS, PANUM_EPS)).clamp_(0, 1)
    for _ in range(PANUM_STEPS):
        x.requires_grad_(True)
        (grad,) = torch.autograd.grad(objective(x).sum(), x)
        with torch.no_grad():
            per_sample = grad.abs().flatten(1).sum(dim=1)
            int((per_sample == 0).sum()), int((~torch.isfinite(per_sample)).sum())
            direction = torch.where(torch.isfinite(grad), grad.sign(), torch.zeros_like(grad))
            x = x - PANUM_ALPHA * direction
            x = (x0 + (x - x0).clamp(-PANUM_EPS, PANUM_EPS)).clamp(0, 1)
    with torch.no_grad():
        objective(x)
        (x - x0).abs().max().item()
    return x.detach()


def describe(net):
    layers = [{"kind": kind, "params": sum(p.numel() for p in m.parameters(recurse=False))
               + sum(b.numel() for name, b in m.named_buffers(recurse=False) if name != "num_batches_tracked")}
              for m in net.modules()
              for kind in [layer_kind(m)] if kind]
    buffers = sum(b.numel() for name, b in net.named_buffers() if not name.endswith("num_batches_tracked"))
    weights = sum(p.numel() for p in net.parameters())
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    return {"params": weights + buffers, "trainable": trainable, "layers": layers}


def layer_kind(module):
    if isinstance(module, nn.Conv2d):
        return "depthwise" if module.groups > 1 else "conv"
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return "batchnorm"
    if isinstance(module, nn.Linear):
        return "dense"
    return None


def median_seconds(step, reps, warmup, device):
    # On a GPU each timed step ends when the device has finished it, as the tfjs side's read-back does.
    def synchronised():
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
    for _ in range(warmup):
        synchronised()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        synchronised()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=sorted(MODELS), required=True)
    parser.add_argument("--size", type=int)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--per-class", type=int)
    parser.add_argument("--infer-batch", type=int, default=256)
    parser.add_argument("--modes", default="train,panum7,infer")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--describe", action="store_true")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (bench/gpu/check.sh)")
    args = parser.parse_args()
    device = torch.device(args.device)
    model_class, channels = MODELS[args.model]
    size = args.size or (28 if args.model == "small-cnn" else 64)
    per_class = args.per_class or (32 if args.model == "small-cnn" else 4)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = model_class(size, channels)
    if args.describe:
        print(json.dumps({"model": args.model, **describe(net)}))
        return
    net = net.to(device)
    trainable = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(trainable, lr=LEARNING_RATE, eps=ADAM_EPSILON)
    images = torch.rand(args.batch, channels, size, size).to(device)
    labels = (torch.arange(args.batch) // per_class).to(device)
    infer_images = torch.rand(args.infer_batch, channels, size, size).to(device)

    def train():
        net.train()
        optimizer.zero_grad()
        batch_hard_triplet_loss(net(images), labels).backward()
        optimizer.step()

    def panum7():
        net.eval()  # crafting runs in inference mode (moving batch-norm statistics)
        with torch.no_grad():
            natural = net(images)
            a, p, n = mine_batch_hard(distances_within(natural), labels)
        adversarial = pgd_anchors(net, images[a], natural[p], natural[n])
        net.train()
        optimizer.zero_grad()
        clean = net(images)
        natural_loss = batch_hard_triplet_loss(clean, labels)
        adversarial_loss = triplet_margin_loss(net(adversarial), clean[p], clean[n])
        (natural_loss + PANUM_WEIGHT * adversarial_loss).backward()
        optimizer.step()

    def infer():
        net.eval()
        with torch.no_grad():
            net(infer_images).cpu().numpy()

    steps = {"train": (train, args.batch), "panum7": (panum7, args.batch), "infer": (infer, args.infer_batch)}
    for mode in args.modes.split(","):
        step, batch = steps[mode]
        seconds = median_seconds(step, args.reps, args.warmup, device)
        print(json.dumps({
            "mode": f"{args.model}:{mode}",
            "B": batch,
            "height": size,
            "channels": channels,
            "median_ms": seconds * 1e3,
            "img_per_s": batch / seconds,
            "threads": args.threads,
            **({"device": torch.cuda.get_device_name(device)} if device.type == "cuda" else {}),
        }), flush=True)


if __name__ == "__main__":
    main()
