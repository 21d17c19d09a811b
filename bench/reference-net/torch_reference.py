#!/usr/bin/env python3
"""PyTorch baseline of the reference net (README.md beside this file), for `rir bench --torch`.

The same network, loss, optimiser, batches and timing rule as the TypeScript benchmark
(reference-net.ts and benchmark.ts beside this file), on the CPU with a fixed number of intra-op
threads, so that the two can be compared as a ratio measured in one run on one machine.

Usage: python3 torch_reference.py HEIGHT CHANNELS THREADS [REPS [WARMUP]]
       (defaults: 28 1, all threads, 9 timed repetitions after 3 warm-ups)
Prints one JSON line per mode: {"mode", "B", "median_ms", "img_per_s", "threads"}.
"""
import json
import math
import statistics
import sys
import time

try:
    import torch
    import torch.nn.functional as F
except ImportError as error:  # `rir bench --torch` checks this first; this is for direct use
    sys.exit(f"torch_reference.py needs PyTorch ({error}): pip install torch, "
             "or apt-get install python3-torch on Debian")

HEIGHT = int(sys.argv[1]) if len(sys.argv) > 1 else 28
CHANNELS = int(sys.argv[2]) if len(sys.argv) > 2 else 1
THREADS = int(sys.argv[3]) if len(sys.argv) > 3 else torch.get_num_threads()
REPS = int(sys.argv[4]) if len(sys.argv) > 4 else 9
WARMUP = int(sys.argv[5]) if len(sys.argv) > 5 else 3

FILTERS = (32, 64, 128)
EMBEDDING_DIM = 128
MARGIN = 0.2
LEARNING_RATE = 1e-3
ADAM_EPSILON = 1e-7  # tfjs's default, which the TypeScript side uses (PyTorch's own is 1e-8)
PGD_STEP = 0.01
BATCH = {"train": 128, "infer": 256, "pgd_step": 128}

torch.set_num_threads(THREADS)
torch.manual_seed(0)


def uniform(shape, fan_in):
    """U(-1/sqrt(fan_in), 1/sqrt(fan_in)), for weights and biases alike (PyTorch's default init)."""
    bound = 1 / math.sqrt(fan_in)
    return (torch.rand(shape) * 2 - 1).mul_(bound).requires_grad_(True)


class ReferenceNet:
    """Three 3x3 'same' convs (32, 64, 128 filters) with ReLU, 2x2 max-pool after the first two,
    global average pool, dense 128, L2 normalisation."""

    def __init__(self, channels):
        self.convs = []
        in_channels = channels
        for filters in FILTERS:
            fan_in = 9 * in_channels
            self.convs.append((uniform((filters, in_channels, 3, 3), fan_in), uniform((filters,), fan_in)))
            in_channels = filters
        self.dense = (uniform((EMBEDDING_DIM, in_channels), in_channels),
                      uniform((EMBEDDING_DIM,), in_channels))

    def parameters(self):
        return [p for pair in self.convs for p in pair] + list(self.dense)

    def __call__(self, images):
        x = images
        for layer, (weight, bias) in enumerate(self.convs):
            x = F.relu(F.conv2d(x, weight, bias, padding=1))
            if layer < len(self.convs) - 1:
                x = F.max_pool2d(x, 2)
        pooled = x.mean(dim=(2, 3))
        dense = F.linear(pooled, *self.dense)
        return dense / dense.norm(dim=1, keepdim=True).clamp_min(1e-12)


def batch_hard_triplet_loss(embeddings, labels, margin=MARGIN):
    """As reference-net.ts computes it: Euclidean distances (squared distances floored at 1e-12
    before the root), the hardest positive (largest distance to a same-class, non-self sample; 0 if
    none), the hardest negative (smallest distance to another class), mean of [pos - neg + margin]+."""
    squared_norms = (embeddings * embeddings).sum(dim=1)
    squared = squared_norms[:, None] + squared_norms[None, :] - 2 * embeddings @ embeddings.T
    distances = squared.clamp_min(1e-12).sqrt()
    same = (labels[:, None] == labels[None, :]).float()
    positive_mask = same - torch.eye(len(labels))
    hardest_positive = (distances * positive_mask).max(dim=1).values
    hardest_negative = (distances + same * 10).min(dim=1).values
    return F.relu(hardest_positive - hardest_negative + margin).mean()


def reference_labels(batch):
    """labels = index div 4: four images per class."""
    return torch.arange(batch) // 4


def median_seconds(step):
    for _ in range(WARMUP):
        step()
    times = []
    for _ in range(REPS):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    net = ReferenceNet(CHANNELS)
    optimizer = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE, eps=ADAM_EPSILON)
    images = {mode: torch.rand(batch, CHANNELS, HEIGHT, HEIGHT) for mode, batch in BATCH.items()}
    labels = {mode: reference_labels(batch) for mode, batch in BATCH.items()}

    def train():
        optimizer.zero_grad()
        batch_hard_triplet_loss(net(images["train"]), labels["train"]).backward()
        optimizer.step()

    def infer():
        with torch.no_grad():
            net(images["infer"])

    def pgd_step():
        x = images["pgd_step"].clone().requires_grad_(True)
        loss = batch_hard_triplet_loss(net(x), labels["pgd_step"])
        (gradient,) = torch.autograd.grad(loss, x)
        with torch.no_grad():
            (x + PGD_STEP * gradient.sign()).clamp_(0, 1)

    for mode, step in (("train", train), ("infer", infer), ("pgd_step", pgd_step)):
        seconds = median_seconds(step)
        print(json.dumps({
            "mode": mode,
            "B": BATCH[mode],
            "median_ms": seconds * 1e3,
            "img_per_s": BATCH[mode] / seconds,
            "threads": THREADS,
        }), flush=True)


if __name__ == "__main__":
    main()
