"""Train a decoder-only character transformer on license texts; export models/charlm.onnx.

Design: a GPT-style model (token + learned position embeddings, pre-LN blocks with causally masked
self-attention, GELU MLPs, LayerNorm, Linear to the vocabulary) over a fixed context of 64 chars.
It trains on every text in /usr/share/common-licenses except Apache-2.0, which is held out for the
eval set, so the reference loss measures generalisation. The vocabulary (the training text's
characters, id = position in the sorted list) is written to charlm_vocab.json.
"""

import common  # first: it sets up OpenMP before torch loads
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
from transformer import Block

TEXT_DIR = "/usr/share/common-licenses"
HELD_OUT = "Apache-2.0"
CONTEXT = 64
N_SEQ = 64


class CharLM(nn.Module):
    def __init__(self, vocab, dim=64, depth=3, heads=4, mlp=192, tokens=CONTEXT):
        super().__init__()
        self.tok_embed = nn.Embedding(vocab, dim)
        self.pos_embed = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
        self.blocks = nn.Sequential(
            *[Block(dim, heads, tokens, mlp, causal=True) for _ in range(depth)]
        )
        self.ln = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, vocab)

    def forward(self, ids):  # [B, 64] int64 -> [B, 64, vocab]
        return self.head(self.ln(self.blocks(self.tok_embed(ids) + self.pos_embed)))


def read_texts():
    """(training text, held-out text); symlinked names (GPL -> GPL-3) are read once."""
    names = sorted(
        f for f in os.listdir(TEXT_DIR)
        if f != HELD_OUT and not os.path.islink(os.path.join(TEXT_DIR, f))
    )
    train = "\n".join(open(os.path.join(TEXT_DIR, f), encoding="utf-8").read() for f in names)
    held = open(os.path.join(TEXT_DIR, HELD_OUT), encoding="utf-8").read()
    return names, train, held


def encode(text, chars):
    index = {c: i for i, c in enumerate(chars)}
    missing = sorted(set(text) - set(index))
    if missing:
        raise ValueError(f"{HELD_OUT}: characters {missing!r} not in the training vocabulary")
    return np.array([index[c] for c in text], dtype=np.int64)


def eval_windows(ids):
    """N_SEQ windows of CONTEXT+1 ids spread evenly over the held-out text -> (x, y)."""
    stride = (len(ids) - CONTEXT - 1) // (N_SEQ - 1)
    win = np.stack([ids[i * stride : i * stride + CONTEXT + 1] for i in range(N_SEQ)])
    return np.ascontiguousarray(win[:, :-1]), np.ascontiguousarray(win[:, 1:])


def train(model, ids, steps, batch, lr, seed):
    data = torch.from_numpy(ids)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    offs = torch.arange(CONTEXT + 1)
    model.train()
    t0, total = time.time(), 0.0
    for step in range(1, steps + 1):
        starts = torch.randint(0, len(data) - CONTEXT - 1, (batch,), generator=gen)
        win = data[starts[:, None] + offs]
        loss = common.loss_of(model(win[:, :-1]), win[:, 1:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        total += loss.item()
        if step % 100 == 0:
            print(f"step {step}/{steps}: train loss {total / 100:.4f}  ({time.time() - t0:.0f} s)")
            total = 0.0
    model.eval()
    return time.time() - t0


def main():
    common.setup(seed=5)
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    names, train_text, held_text = read_texts()
    chars = sorted(set(train_text))
    x_eval, y_eval = eval_windows(encode(held_text, chars))
    d = common.DATA_DIR
    np.save(os.path.join(d, "charlm_eval_x.npy"), x_eval)
    np.save(os.path.join(d, "charlm_eval_y.npy"), y_eval)
    with open(os.path.join(common.HERE, "charlm_vocab.json"), "w") as f:
        vocab = {"chars": chars, "context": CONTEXT, "train_files": names, "eval_file": HELD_OUT}
        json.dump(vocab, f, indent=1)
        f.write("\n")

    model = CharLM(len(chars))
    secs = train(model, encode(train_text, chars), steps, batch=32, lr=3e-3, seed=5)
    path = os.path.join(common.HERE, "charlm.onnx")
    m = common.export(model, torch.from_numpy(x_eval[:2]), path, opset=17)
    logits = common.predict(model, x_eval, batch=16)
    np.save(os.path.join(d, "charlm_logits.npy"), logits)
    rel = common.check_against_torch(path, x_eval[:8], logits[:8])
    info = {
        "model": "charlm",
        "onnx": "charlm.onnx",
        "opset": 17,
        "ops": common.op_types(m),
        "params": common.n_params(model),
        "macs_per_sample": common.count_macs(model, torch.from_numpy(x_eval[:2])),
        "vocab": len(chars),
        "context": CONTEXT,
        "eval_x": "data/charlm_eval_x.npy",
        "eval_y": "data/charlm_eval_y.npy",
        "logits": "data/charlm_logits.npy",
        **common.metrics(logits, y_eval),
    }
    info["bits_per_char"] = info["loss"] / float(np.log(2.0))
    common.write_json("charlm", info)
    print(f"charlm: {json.dumps(info)}")
    print(f"charlm: trained in {secs:.0f} s; numpy graph vs torch rel diff {rel:.2e}")


if __name__ == "__main__":
    main()
