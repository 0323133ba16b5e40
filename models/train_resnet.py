"""Train a small ResNet on Fashion-MNIST and export models/resnet.onnx plus its reference outputs.

Design: a CIFAR-style ResNet cut down for 28x28 inputs (stages of 16/32/64 channels at 28/14/7
pixels, basic blocks, a 1x1 projection where the shape changes) so that the graph has what large
ResNets have: BatchNormalization as its own node, residual Adds, global average pooling and a Gemm.
"""

import sys

import common  # first: it sets up OpenMP before torch loads
import torch.nn as nn


def conv_bn(cin, cout, k, stride):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm2d(cout)
    )


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = conv_bn(cin, cout, 3, stride)
        self.conv2 = conv_bn(cout, cout, 3, 1)
        self.relu = nn.ReLU()
        self.shortcut = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else None

    def forward(self, x):
        y = self.conv2(self.relu(self.conv1(x)))
        return self.relu(y + (x if self.shortcut is None else self.shortcut(x)))


class SmallResNet(nn.Module):
    def __init__(self, widths=(16, 32, 64), blocks=(1, 1, 2), classes=10):
        super().__init__()
        self.stem = nn.Sequential(conv_bn(1, widths[0], 3, 1), nn.ReLU())
        layers, cin = [], widths[0]
        for i, (w, n) in enumerate(zip(widths, blocks)):
            for j in range(n):
                layers.append(BasicBlock(cin, w, 2 if (i > 0 and j == 0) else 1))
                cin = w
        self.layers = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        return self.fc(self.flatten(self.pool(self.layers(self.stem(x)))))


def main():
    common.setup(seed=2)
    x, y = common.load_fmnist("train")
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 4
    model = SmallResNet()
    secs = common.train(model, x, y, epochs=epochs, batch=128, lr=4e-3, seed=2,
                        weight_decay=5e-4, augment=common.flip_augment)
    info = common.finish_image_model("resnet", model, opset=13, train_seconds=secs)
    if "BatchNormalization" not in info["ops"] or "Add" not in info["ops"]:
        raise RuntimeError("resnet.onnx: BatchNormalization or residual Add missing")


if __name__ == "__main__":
    main()
