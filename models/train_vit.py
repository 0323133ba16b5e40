"""Train a small Vision Transformer on Fashion-MNIST; export models/vit.onnx and its references.

Design: a ViT as torchvision builds it, scaled down: 7x7 patches embedded by a strided Conv
(16 tokens), a learned class token prepended with Expand+Concat, learned position embeddings,
pre-LN blocks with multi-head self-attention and GELU MLPs, and a LayerNorm + Linear head on the
class token. Opset 17 so LayerNorm is exported as one LayerNormalization node.
"""

import sys

import torch
import common  # first: it sets up OpenMP before torch loads
import torch.nn as nn
from transformer import Block


class SmallViT(nn.Module):
    def __init__(self, dim=64, depth=4, heads=4, mlp=128, patch=7, classes=10):
        super().__init__()
        self.dim, self.patches = dim, (28 // patch) ** 2
        tokens = self.patches + 1
        self.patch_embed = nn.Conv2d(1, dim, patch, stride=patch)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim, heads, tokens, mlp) for _ in range(depth)])
        self.ln = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        # Constant reshape sizes and an explicit expand keep the graph free of Where/Equal chains.
        x = self.patch_embed(x).reshape(-1, self.dim, self.patches).transpose(1, 2)
        cls = self.cls_token.expand(x.shape[0], 1, self.dim)
        x = torch.cat([cls, x], dim=1) + self.pos_embed
        return self.head(self.ln(self.blocks(x))[:, 0])


def main():
    common.setup(seed=4)
    x, y = common.load_fmnist("train")
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    model = SmallViT()
    secs = common.train(model, x, y, epochs=epochs, batch=128, lr=2e-3, seed=4,
                        weight_decay=0.05, augment=common.flip_augment)
    info = common.finish_image_model("vit", model, opset=17, train_seconds=secs)
    for need in ("LayerNormalization", "Softmax", "Erf", "Concat"):
        if need not in info["ops"]:
            raise RuntimeError(f"vit.onnx: no {need} node")


if __name__ == "__main__":
    main()
