"""Train a small MobileNet (v1 style) on Fashion-MNIST; export models/mobilenet.onnx and references.

Design: depthwise-separable blocks (3x3 depthwise Conv with group = channels, then 1x1 pointwise
Conv), each Conv followed by its own BatchNormalization and ReLU6 (exported as Clip 0..6), so the
engine and the fault campaigns meet grouped convolutions and bounded activations.
"""

import sys

import common  # first: it sets up OpenMP before torch loads
import torch.nn as nn


def conv_bn_relu6(cin, cout, k, stride, groups=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(),
    )


class DepthwiseSeparable(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.depthwise = conv_bn_relu6(cin, cin, 3, stride, groups=cin)
        self.pointwise = conv_bn_relu6(cin, cout, 1, 1)

    def forward(self, x):
        return self.pointwise(self.depthwise(x))


class SmallMobileNet(nn.Module):
    # (output channels, stride) of each depthwise-separable block after a stride-2 stem:
    # 14 -> 7 -> 4 pixels, which keeps training within minutes on two shared cores.
    CFG = ((32, 1), (64, 2), (64, 1), (128, 2), (128, 1))

    def __init__(self, classes=10):
        super().__init__()
        self.stem = conv_bn_relu6(1, 16, 3, 2)
        blocks, cin = [], 16
        for cout, stride in self.CFG:
            blocks.append(DepthwiseSeparable(cin, cout, stride))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        return self.fc(self.flatten(self.pool(self.blocks(self.stem(x)))))


def main():
    common.setup(seed=3)
    x, y = common.load_fmnist("train")
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    model = SmallMobileNet()
    secs = common.train(model, x, y, epochs=epochs, batch=128, lr=4e-3, seed=3,
                        weight_decay=1e-4, augment=common.flip_augment)
    info = common.finish_image_model("mobilenet", model, opset=13, train_seconds=secs)
    if "BatchNormalization" not in info["ops"] or "Clip" not in info["ops"]:
        raise RuntimeError("mobilenet.onnx: BatchNormalization or Clip (ReLU6) missing")


if __name__ == "__main__":
    main()
