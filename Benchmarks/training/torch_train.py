#!/usr/bin/env python3
"""PyTorch CPU eager training throughput for the nets of Specs/mnist_cnn.yaml and Specs/lenet5.yaml.

Same work as `modelc train`: MNIST images from the gz IDX files held in memory, normalized with
mean 0.1307 / std 0.3081, a seeded shuffle, batches of --batch, forward in training mode
(dropout on), cross-entropy, backward, Adam step. Prints one JSON line with images/s over the
timed steps (after --warmup steps).
"""
import argparse, gzip, json, os, struct, time

import torch
import torch.nn as nn
import torch.nn.functional as F


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    nd = data[3]
    dims = struct.unpack(">" + "I" * nd, data[4:4 + 4 * nd])
    return torch.frombuffer(bytearray(data[4 + 4 * nd:]), dtype=torch.uint8).reshape(dims)


def find(directory, stem):
    for name in (stem, stem + ".gz"):
        p = os.path.join(directory, name)
        if os.path.exists(p):
            return p
    raise SystemExit(f"{directory}: no {stem}[.gz]")


class MnistCNN(nn.Module):  # PyTorch examples/mnist Net, as Specs/mnist_cnn.yaml
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = self.dropout1(F.max_pool2d(x, 2))
        x = torch.flatten(x, 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return self.fc2(x)


class LeNet5(nn.Module):  # as Specs/lenet5.yaml
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--net", choices=["mnist_cnn", "lenet5"], required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=10)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    images = read_idx(find(a.data, "train-images-idx3-ubyte")).float().div_(255).sub_(0.1307).div_(0.3081).unsqueeze(1)
    labels = read_idx(find(a.data, "train-labels-idx1-ubyte")).long()
    model = MnistCNN() if a.net == "mnist_cnn" else LeNet5()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.randperm(images.shape[0])
    n = images.shape[0]

    def step(i):
        idx = order[(i * a.batch) % (n - a.batch):][:a.batch]
        x, y = images.index_select(0, idx), labels.index_select(0, idx)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    for i in range(a.warmup):
        step(i)
    t = time.perf_counter()
    for i in range(a.steps):
        step(a.warmup + i)
    secs = time.perf_counter() - t
    print(json.dumps({"framework": "pytorch", "version": torch.__version__, "net": a.net, "batch": a.batch,
                      "threads": a.threads, "images_per_second": a.steps * a.batch / secs}))


if __name__ == "__main__":
    main()
