"""Transformer pieces shared by the ViT and the character LM, written for a plain ONNX export.

Design: attention is spelled out (separate q/k/v Linears, MatMul, Softmax) instead of using
nn.MultiheadAttention, so the exported graph has only ops every engine knows and each projection is
its own fault-injection site. Reshapes use -1 for the batch and constants elsewhere, which keeps
Shape/Gather chains out of the graph. The causal mask is additive and finite (-1e4, which still
underflows exp() to exactly 0) so that number formats quantising the scores never meet an infinity.
"""

import torch
import torch.nn as nn


class SelfAttention(nn.Module):
    def __init__(self, dim, heads, tokens, causal=False):
        super().__init__()
        self.heads, self.tokens, self.dh = heads, tokens, dim // heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        self.scale = self.dh**-0.5
        mask = torch.triu(torch.full((tokens, tokens), -1e4), diagonal=1) if causal else None
        self.register_buffer("mask", mask)
        # Q.K^T and P.V per sample, read by common.count_macs (matmuls are not modules).
        self.last_macs = 0

    def split(self, x):  # [B,T,D] -> [B,H,T,dh]
        return x.reshape(-1, self.tokens, self.heads, self.dh).transpose(1, 2)

    def forward(self, x):
        q, k, v = self.split(self.q(x) * self.scale), self.split(self.k(x)), self.split(self.v(x))
        scores = torch.matmul(q, k.transpose(-2, -1))
        if self.mask is not None:
            scores = scores + self.mask
        y = torch.matmul(torch.softmax(scores, dim=-1), v)
        self.last_macs = 2 * x.shape[0] * self.tokens * self.tokens * self.dh * self.heads
        return self.proj(y.transpose(1, 2).reshape(-1, self.tokens, self.heads * self.dh))


class Block(nn.Module):
    """Pre-LayerNorm transformer block: x + attn(ln(x)), then x + mlp(ln(x)) with GELU."""

    def __init__(self, dim, heads, tokens, mlp, causal=False):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, heads, tokens, causal)
        self.ln2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp), nn.GELU(), nn.Linear(mlp, dim))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))
