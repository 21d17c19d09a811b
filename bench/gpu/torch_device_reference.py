#!/usr/bin/python3
"""The reference net of bench/reference-net/README.md in PyTorch on a chosen device (cuda or cpu).

Same net, loss, batches and timing rule (median of reps after warm-ups) as the CPU baseline
(bench/reference-net/torch_reference.py), with torch.cuda.synchronize() closing each timed
repetition. Usage: torch_device_reference.py H C DEVICE [REPS [BATCH]] (BATCH: one batch for every
mode instead of 128 / 256 / 128, for a quick check). Prints one JSON line per mode.
"""
import json, statistics, sys, time
import torch, torch.nn as nn, torch.nn.functional as F

H = int(sys.argv[1]); C = int(sys.argv[2]); device = torch.device(sys.argv[3])
reps = int(sys.argv[4]) if len(sys.argv) > 4 else 20
batch_override = int(sys.argv[5]) if len(sys.argv) > 5 else None
torch.manual_seed(0)

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(C, 32, 3, padding=1)
        self.c2 = nn.Conv2d(32, 64, 3, padding=1)
        self.c3 = nn.Conv2d(64, 128, 3, padding=1)
        self.fc = nn.Linear(128, 128)
    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = F.relu(self.c3(x)).mean(dim=(2, 3))
        return F.normalize(self.fc(x), dim=1)

def triplet(e, y, margin=0.2):
    d = torch.cdist(e, e)
    same = y[:, None] == y[None, :]
    eye = torch.eye(len(y), dtype=torch.bool, device=e.device)
    pos = (d * (same & ~eye)).max(1).values
    neg = (d + same.float() * 10).min(1).values
    return F.relu(pos - neg + margin).mean()

def sync():
    if device.type == 'cuda': torch.cuda.synchronize()

def timeit(fn, warm=5):
    for _ in range(warm): fn()
    sync(); ts = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); sync(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)

net = Net().to(device)
opt = torch.optim.Adam(net.parameters(), 1e-3)
B_TRAIN = batch_override or 128; B_INFER = batch_override or 256
x = torch.rand(B_TRAIN, C, H, H, device=device); y = (torch.arange(B_TRAIN) // 4).to(device)
xi = torch.rand(B_INFER, C, H, H, device=device)
def train():
    opt.zero_grad(); loss = triplet(net(x), y); loss.backward(); opt.step()
def infer():
    with torch.no_grad(): net(xi)
def pgd():
    xa = x.clone().requires_grad_(True)
    loss = triplet(net(xa), y); g, = torch.autograd.grad(loss, xa)
    (x + 0.01 * g.sign()).clamp(0, 1)
name = torch.cuda.get_device_name() if device.type == 'cuda' else 'cpu'
for mode, fn, batch in (('train', train, B_TRAIN), ('infer', infer, B_INFER), ('pgd_step', pgd, B_TRAIN)):
    t = timeit(fn)
    print(json.dumps({"framework": "pytorch", "device": name, "torch": torch.__version__, "mode": mode,
                      "height": H, "channels": C, "batch": batch, "threads": torch.get_num_threads(),
                      "median_ms": round(t * 1e3, 3), "img_per_s": round(batch / t, 1)}), flush=True)
