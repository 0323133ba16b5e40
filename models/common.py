"""Shared pieces of the model scripts: Fashion-MNIST loading, training, ONNX export, eval sets.

Design: every train_<name>.py builds a model, calls train() and then finish_image_model() (or the
LM equivalent), so all models are trained, exported and measured the same way. Outputs are
deterministic (fixed seeds, deterministic kernels, fixed thread count) so regenerating gives the
same reference files.
The reference numbers come from the torch module in eval mode; the exported graph is checked against
the module by onnx_ref.py (a small numpy interpreter), never by another runtime.
"""

import gzip
import json
import os
import random
import time
import warnings

import numpy as np

# On a shared 2-core machine OpenMP's default spin-waiting makes each training step up to 8x
# slower whenever another process holds a core; passive waiting must be set before torch loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(HERE, "data")
FMNIST_DIR = "/usr/share/datasets/fashion-mnist"
# The peer tool's LeNet normalisation; every image model uses it so one eval set serves all.
MEAN, STD = 0.286, 0.353
N_EVAL = 1000


def setup(seed):
    """Fix every source of randomness and the thread count (the machine is shared, 2 cores)."""
    torch.set_num_threads(2)
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    torch.use_deterministic_algorithms(True)
    os.makedirs(DATA_DIR, exist_ok=True)


def read_idx(path):
    """Read a gzipped IDX file (big-endian header: magic with dtype+ndim, then the dims)."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: {data.size} bytes of data for dims {dims}")
    return data.reshape(dims)


def normalise(pixels):
    """uint8 [N,28,28] -> float32 [N,1,28,28], the same arithmetic order as the peer tool."""
    x = pixels.astype(np.float32) / np.float32(255.0)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return x[:, None, :, :].astype(np.float32)


def load_fmnist(split):
    """split 'train' or 't10k' -> (x float32 [N,1,28,28] normalised, y int64 [N])."""
    x = read_idx(os.path.join(FMNIST_DIR, f"{split}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(FMNIST_DIR, f"{split}-labels-idx1-ubyte.gz"))
    return normalise(x), y.astype(np.int64)


def write_fmnist_eval_set():
    """The shared image eval set: the first N_EVAL test images, written once for all models."""
    x, y = load_fmnist("t10k")
    np.save(os.path.join(DATA_DIR, "fmnist_eval_x.npy"), np.ascontiguousarray(x[:N_EVAL]))
    np.save(os.path.join(DATA_DIR, "fmnist_eval_y.npy"), np.ascontiguousarray(y[:N_EVAL]))
    return x, y


def train(model, x, y, epochs, batch, lr, seed, weight_decay=0.0, augment=None, log=print):
    """AdamW with a one-cycle schedule; returns wall seconds. x, y are numpy arrays."""
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    steps = epochs * ((len(xt) + batch - 1) // batch)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.2)
    t0 = time.time()
    for ep in range(epochs):
        model.train()
        perm = torch.randperm(len(xt), generator=gen)
        total, n = 0.0, 0
        for i in range(0, len(xt), batch):
            idx = perm[i : i + batch]
            xb, yb = xt[idx], yt[idx]
            if augment is not None:
                xb = augment(xb, gen)
            loss = loss_of(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            n += len(idx)
            if (i // batch + 1) % 100 == 0:
                secs = time.time() - t0
                log(f"  step {i // batch + 1}: running loss {total / n:.4f} ({secs:.0f} s)")
        log(f"epoch {ep + 1}/{epochs}: train loss {total / n:.4f}  ({time.time() - t0:.0f} s)")
    model.eval()
    return time.time() - t0


def loss_of(logits, y):
    """Cross-entropy over the last axis; works for [B,C] and the LM's [B,T,V]."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def flip_augment(xb, gen):
    """Random horizontal flip: cheap and label-preserving for Fashion-MNIST."""
    flip = torch.rand(len(xb), generator=gen) < 0.5
    xb = xb.clone()
    xb[flip] = xb[flip].flip(-1)
    return xb


@torch.no_grad()
def predict(model, x, batch=500):
    """Logits of the eval-mode model for numpy input x, as float32 numpy."""
    model.eval()
    out = [model(torch.from_numpy(x[i : i + batch])) for i in range(0, len(x), batch)]
    return torch.cat(out).numpy().astype(np.float32)


def metrics(logits, y):
    """The numbers the C engine must reproduce; logits [..., C], y [...] -> dict (float64 math)."""
    z = logits.reshape(-1, logits.shape[-1]).astype(np.float64)
    t = y.reshape(-1)
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    p = np.exp(logp)
    top2 = np.sort(p, axis=1)[:, -2:]
    return {
        "n": int(len(t)),
        "accuracy": float((z.argmax(axis=1) == t).mean()),
        "loss": float(-logp[np.arange(len(t)), t].mean()),
        "top1_conf": float(top2[:, 1].mean()),
        "top2_diff": float((top2[:, 1] - top2[:, 0]).mean()),
    }


def count_macs(model, example):
    """Multiply-accumulates per sample of Conv2d/Linear layers plus attention matmuls.

    Attention modules report their own matmul MACs in a `last_macs` attribute, because those
    products are not nn modules. Normalisation, activations and pooling are not counted.
    """
    total = [0]

    def hook(mod, inp, out):
        if isinstance(mod, nn.Conv2d):
            k = mod.in_channels // mod.groups * mod.kernel_size[0] * mod.kernel_size[1]
            total[0] += out.numel() * k
        elif isinstance(mod, nn.Linear):
            total[0] += out.numel() * mod.in_features
        elif hasattr(mod, "last_macs"):
            total[0] += mod.last_macs

    hooks = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        model.eval()
        model(example)
    for h in hooks:
        h.remove()
    return total[0] // example.shape[0]


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def export(model, example, path, opset, input_names=("input",), output_names=("logits",)):
    """Export with a dynamic batch axis and BatchNormalization kept as its own node, then check."""
    import onnx

    model.eval()
    axes = {input_names[0]: {0: "batch"}, output_names[0]: {0: "batch"}}
    # PRESERVE with an eval() model keeps BatchNormalization nodes (in inference form); the
    # default EVAL mode lets torch 1.13 fold them into the preceding Conv. Its warning about
    # constant folding concerns models in training mode only, so it is silenced.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="It is recommended that constant folding")
        torch.onnx.export(
            model,
            example,
            path,
            opset_version=opset,
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_axes=axes,
            do_constant_folding=True,
            training=torch.onnx.TrainingMode.PRESERVE,
        )
    m = inline_identity_initializers(onnx.load(path))
    with torch.no_grad():
        out_shape = model(example).shape
    # torch leaves some static output dims symbolic (the LM's sequence axis); only batch may vary.
    for axis, dim in enumerate(m.graph.output[0].type.tensor_type.shape.dim):
        if axis > 0 and not dim.HasField("dim_value"):
            dim.dim_value = out_shape[axis]
    onnx.save(m, path)
    onnx.checker.check_model(m, full_check=True)
    if [i.name for i in m.graph.input] != list(input_names):
        raise RuntimeError(f"{path}: graph inputs {[i.name for i in m.graph.input]}")
    if [o.name for o in m.graph.output] != list(output_names):
        raise RuntimeError(f"{path}: graph outputs {[o.name for o in m.graph.output]}")
    for bn in (n for n in m.graph.node if n.op_type == "BatchNormalization"):
        if len(bn.output) != 1:
            raise RuntimeError(f"{path}:{bn.name}: BatchNormalization exported in training form")
    return m


def inline_identity_initializers(m):
    """Give each layer its own copy of a parameter that torch deduplicated behind an Identity.

    torch merges bit-identical initializers (e.g. the biases of two BatchNorms feeding one residual
    Add, which train identically); a weight fault must hit one layer only, so they are split again.
    """
    from onnx import numpy_helper

    inits = {i.name: i for i in m.graph.initializer}
    keep = []
    for n in m.graph.node:
        if n.op_type == "Identity" and n.input[0] in inits:
            copy = numpy_helper.from_array(numpy_helper.to_array(inits[n.input[0]]), n.output[0])
            m.graph.initializer.append(copy)
        else:
            keep.append(n)
    del m.graph.node[:]
    m.graph.node.extend(keep)
    return m


def op_types(m):
    return sorted({n.op_type for n in m.graph.node})


def check_against_torch(onnx_path, x, torch_logits, tol=1e-4):
    """Run the exported graph with the numpy reference interpreter and compare with torch.

    Returns the max abs diff relative to max |logit|; raises if it exceeds tol or argmax differs.
    """
    import onnx_ref

    got = onnx_ref.run(onnx_path, {"input": x})["logits"]
    scale = float(np.abs(torch_logits).max())
    rel = float(np.abs(got - torch_logits).max()) / scale
    same = bool((got.argmax(-1) == torch_logits.argmax(-1)).all())
    if rel > tol or not same:
        msg = f"numpy graph differs from torch: rel {rel:.3g}, same argmax {same}"
        raise RuntimeError(f"{onnx_path}: {msg}")
    return rel


def write_json(name, info):
    with open(os.path.join(HERE, f"{name}.json"), "w") as f:
        json.dump(info, f, indent=1, sort_keys=False)
        f.write("\n")


def finish_image_model(name, model, opset, train_seconds, log=print):
    """Export, write logits and the json of an image model, and check the graph against torch."""
    path = os.path.join(HERE, f"{name}.onnx")
    x_eval = np.load(os.path.join(DATA_DIR, "fmnist_eval_x.npy"))
    y_eval = np.load(os.path.join(DATA_DIR, "fmnist_eval_y.npy"))
    m = export(model, torch.from_numpy(x_eval[:2]), path, opset)
    logits = predict(model, x_eval)
    np.save(os.path.join(DATA_DIR, f"{name}_logits.npy"), logits)
    rel = check_against_torch(path, x_eval[:100], logits[:100])
    x_test, y_test = load_fmnist("t10k")
    info = {
        "model": name,
        "onnx": f"{name}.onnx",
        "opset": opset,
        "ops": op_types(m),
        "params": n_params(model),
        "macs_per_sample": count_macs(model, torch.from_numpy(x_eval[:2])),
        "eval_x": "data/fmnist_eval_x.npy",
        "eval_y": "data/fmnist_eval_y.npy",
        "logits": f"data/{name}_logits.npy",
        **metrics(logits, y_eval),
        "test_accuracy_10k": metrics(predict(model, x_test), y_test)["accuracy"],
    }
    write_json(name, info)
    log(f"{name}: {json.dumps(info)}")
    log(f"{name}: trained in {train_seconds:.0f} s; numpy graph vs torch rel diff {rel:.2e}")
    return info
