"""Train LeNet-5 on Fashion-MNIST and export models/lenet5.onnx plus its reference outputs.

Design: the same architecture and module layout as the peer tool's lenet5_fmnist.onnx (conv6-conv16-
fc120-fc84-fc10, ReLU, max pooling, first conv padded to keep 28x28), so node names line up and the
fault campaigns can be compared layer by layer. It also writes the shared image eval set.
"""

import common  # first: it sets up OpenMP before torch loads
import torch.nn as nn


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(400, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def main():
    common.setup(seed=1)
    common.write_fmnist_eval_set()
    x, y = common.load_fmnist("train")
    model = LeNet5()
    secs = common.train(model, x, y, epochs=4, batch=128, lr=3e-3, seed=1)
    common.finish_image_model("lenet5", model, opset=13, train_seconds=secs)


if __name__ == "__main__":
    main()
