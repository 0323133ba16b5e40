"""A small numpy interpreter for the ONNX ops the bundled models use, to check their export.

Design: the only runtime here is torch, and comparing torch with torch would not catch an export
that differs from the module (BatchNorm mode, masks, layouts). So each graph is evaluated node by
node in plain numpy (float64 accumulation where cheap) and compared with the module's logits. It
covers just the ops and attributes our exporter emits and raises on anything else, naming the node.
"""

import math
import sys

import numpy as np
import onnx
from onnx import numpy_helper

OPS = {}


def op(name):
    def reg(fn):
        OPS[name] = fn
        return fn

    return reg


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


@op("Conv")
def conv(node, a, x, w, b=None):
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    g = a.get("group", 1)
    sh, sw = a.get("strides", [1, 1])
    dh, dw = a.get("dilations", [1, 1])
    pt, pl, pb, pr = a.get("pads", [0, 0, 0, 0])
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise NotImplementedError(f"{node.name}: auto_pad")
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    span = ((kh - 1) * dh + 1, (kw - 1) * dw + 1)
    win = np.lib.stride_tricks.sliding_window_view(xp, span, (2, 3))
    win = win[:, :, ::sh, ::sw, ::dh, ::dw]  # n c oh ow kh kw
    oh, ow = win.shape[2], win.shape[3]
    win = win.reshape(n, g, c // g, oh, ow, kh, kw)
    wg = w.reshape(g, m // g, cg, kh, kw)
    y = np.einsum("ngchwij,gocij->ngohw", win, wg, optimize=True).reshape(n, m, oh, ow)
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y.astype(np.float32)


@op("MaxPool")
def maxpool(node, a, x):
    kh, kw = a["kernel_shape"]
    sh, sw = a.get("strides", [1, 1])
    pt, pl, pb, pr = a.get("pads", [0, 0, 0, 0])
    if a.get("ceil_mode", 0) or a.get("dilations", [1, 1]) != [1, 1]:
        raise NotImplementedError(f"{node.name}: ceil_mode/dilations")
    xp = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=-np.inf)
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), (2, 3))[:, :, ::sh, ::sw]
    return win.max(axis=(4, 5))


@op("BatchNormalization")
def batchnorm(node, a, x, scale, bias, mean, var):
    shp = (1, -1) + (1,) * (x.ndim - 2)
    inv = 1.0 / np.sqrt(var.astype(np.float64) + a.get("epsilon", 1e-5))
    y = (x - mean.reshape(shp)) * (scale * inv).reshape(shp) + bias.reshape(shp)
    return y.astype(np.float32)


@op("LayerNormalization")
def layernorm(node, a, x, scale, bias=None):
    axis = a.get("axis", -1)
    axes = tuple(range(axis % x.ndim, x.ndim))
    x64 = x.astype(np.float64)
    mu = x64.mean(axis=axes, keepdims=True)
    var = ((x64 - mu) ** 2).mean(axis=axes, keepdims=True)
    y = (x64 - mu) / np.sqrt(var + a.get("epsilon", 1e-5)) * scale
    return (y + bias if bias is not None else y).astype(np.float32)


@op("Gemm")
def gemm(node, a, x, w, c=None):
    x = x.T if a.get("transA", 0) else x
    w = w.T if a.get("transB", 0) else w
    y = a.get("alpha", 1.0) * (x.astype(np.float64) @ w)
    if c is not None:
        y = y + a.get("beta", 1.0) * c
    return y.astype(np.float32)


@op("MatMul")
def matmul(node, a, x, y):
    return np.matmul(x.astype(np.float64), y).astype(np.float32)


@op("Softmax")
def softmax(node, a, x):
    axis = a.get("axis", -1)
    z = np.exp(x.astype(np.float64) - x.max(axis=axis, keepdims=True))
    return (z / z.sum(axis=axis, keepdims=True)).astype(np.float32)


_erf = np.frompyfunc(math.erf, 1, 1)
OPS["Erf"] = lambda n, a, x: _erf(x.astype(np.float64)).astype(np.float32)
OPS["Relu"] = lambda n, a, x: np.maximum(x, 0).astype(x.dtype)
OPS["Sqrt"] = lambda n, a, x: np.sqrt(x)
OPS["Add"] = lambda n, a, x, y: x + y
OPS["Sub"] = lambda n, a, x, y: x - y
OPS["Mul"] = lambda n, a, x, y: x * y
OPS["Div"] = lambda n, a, x, y: (x // y) if x.dtype.kind == "i" else x / y
OPS["Pow"] = lambda n, a, x, y: np.power(x, y).astype(x.dtype)
OPS["Equal"] = lambda n, a, x, y: x == y
OPS["Where"] = lambda n, a, c, x, y: np.where(c, x, y)
OPS["Identity"] = lambda n, a, x: x
OPS["Shape"] = lambda n, a, x: np.array(x.shape, dtype=np.int64)
OPS["Flatten"] = lambda n, a, x: x.reshape(int(np.prod(x.shape[: a.get("axis", 1)])), -1)
OPS["Transpose"] = lambda n, a, x: np.transpose(x, a.get("perm"))
OPS["Concat"] = lambda n, a, *xs: np.concatenate(xs, axis=a["axis"])
OPS["Expand"] = lambda n, a, x, s: x * np.ones(s, dtype=x.dtype)
OPS["Unsqueeze"] = lambda n, a, x, ax: np.expand_dims(x, tuple(int(i) for i in ax))
OPS["Squeeze"] = lambda n, a, x, ax=None: np.squeeze(x, None if ax is None else tuple(ax))
OPS["GlobalAveragePool"] = lambda n, a, x: x.mean(axis=(2, 3), keepdims=True, dtype=np.float64)
OPS["Cast"] = lambda n, a, x: x.astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[a["to"]])


@op("Clip")
def clip(node, a, x, lo=None, hi=None):
    lo = -np.inf if lo is None else lo
    hi = np.inf if hi is None else hi
    return np.clip(x, lo, hi).astype(x.dtype)


@op("ReduceMean")
def reducemean(node, a, x):
    return x.mean(axis=tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1)), dtype=np.float64)


@op("Gather")
def gather(node, a, x, idx):
    return np.take(x, idx, axis=a.get("axis", 0))


@op("Reshape")
def reshape(node, a, x, shape):
    shape = [x.shape[i] if d == 0 else int(d) for i, d in enumerate(shape)]
    return x.reshape(shape)


@op("Slice")
def slice_(node, a, x, starts, ends, axes=None, steps=None):
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    sl = [slice(None)] * x.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        sl[int(ax)] = slice(int(s), int(min(max(e, -(2**62)), 2**62)), int(st))
    return x[tuple(sl)]


@op("Constant")
def constant(node, a):
    return numpy_helper.to_array(node.attribute[0].t)


@op("ConstantOfShape")
def constant_of_shape(node, a, shape):
    v = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
    return np.full(shape, v.reshape(-1)[0], dtype=v.dtype)


def run(path_or_model, feeds):
    """Evaluate the graph on feeds {name: array}; returns {output name: array}."""
    m = onnx.load(path_or_model) if isinstance(path_or_model, str) else path_or_model
    env = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    env.update(feeds)
    for node in m.graph.node:
        fn = OPS.get(node.op_type)
        if fn is None:
            raise NotImplementedError(f"{node.name}: op {node.op_type} not in onnx_ref")
        ins = [env[i] if i else None for i in node.input]
        while ins and ins[-1] is None:
            ins.pop()
        outs = fn(node, attrs(node), *ins)
        outs = outs if isinstance(outs, tuple) else (outs,)
        for name, val in zip(node.output, outs):
            env[name] = np.asarray(val)
    return {o.name: env[o.name] for o in m.graph.output}


if __name__ == "__main__":
    # python3 onnx_ref.py model.onnx input.npy [out.npy]
    y = run(sys.argv[1], {"input": np.load(sys.argv[2])})["logits"]
    if len(sys.argv) > 3:
        np.save(sys.argv[3], y)
    print(y.shape, y.dtype)
