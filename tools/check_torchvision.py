#!/usr/bin/python3
"""Check Aurum's `infer` against PyTorch on full-size torchvision models (run on demand, not in CI).

Design: resnet18, mobilenet_v2 and vit_b_16 with random weights (weights=None: nothing is
downloaded) are exported at 224x224 the way the bundled models are (BatchNormalization kept, dynamic
batch), run by `aurum infer` on a random batch of 2, and compared with the eval-mode torch logits:
max |diff| / max |logit| < 1e-4 and equal argmax. One line per model; exit 1 on any mismatch.

usage: /usr/bin/python3 tools/check_torchvision.py [AURUM] [--models a,b] [--keep DIR]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
import torchvision

MODELS = {"resnet18": 13, "mobilenet_v2": 13, "vit_b_16": 17}  # name -> opset
TOL = 1e-4


def export(model, x, path, opset):
    """Same export settings as models/common.py, so the engine sees the same kind of graph."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, x, path, opset_version=opset, input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            do_constant_folding=True, training=torch.onnx.TrainingMode.PRESERVE,
        )


def check(name, aurum, workdir):
    """Returns (ok, one-line message)."""
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(weights=None).eval()
    # Some heads start at zero (vit_b_16's), which would make every logit 0 and the check empty.
    for mod in model.modules():
        if isinstance(mod, torch.nn.Linear) and not mod.weight.any():
            torch.nn.init.normal_(mod.weight, std=0.02)
            torch.nn.init.normal_(mod.bias, std=0.02)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        ref = model(x).numpy()
    onnx_path = os.path.join(workdir, f"{name}.onnx")
    x_path, y_path = os.path.join(workdir, f"{name}_x.npy"), os.path.join(workdir, f"{name}_y.npy")
    export(model, x, onnx_path, MODELS[name])
    np.save(x_path, x.numpy())
    cmd = [aurum, "infer", onnx_path, "--inputs", x_path, "--out", y_path, "--batch", "2"]
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    secs = time.time() - t0
    if proc.returncode != 0:
        err = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        return False, f"{name}: FAIL aurum exited {proc.returncode}: {err[-1] if err else ''}"
    got = np.load(y_path)
    if got.shape != ref.shape:
        return False, f"{name}: FAIL output shape {got.shape}, torch {ref.shape}"
    rel = float(np.abs(got.astype(np.float64) - ref).max() / max(np.abs(ref).max(), 1e-30))
    same = bool((got.argmax(axis=1) == ref.argmax(axis=1)).all())
    ok = rel < TOL and same
    verdict = "ok" if ok else "FAIL"
    return ok, (f"{name}: {verdict} rel_max_diff={rel:.3g} (tol {TOL:g}) argmax_equal={same} "
                f"aurum_s={secs:.2f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("aurum", nargs="?", default="./build/cli/aurum")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated subset")
    ap.add_argument("--keep", help="write the ONNX and .npy files here instead of a temp dir")
    args = ap.parse_args()
    names = [n for n in args.models.split(",") if n]
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    if not os.access(args.aurum, os.X_OK):
        print(f"check_torchvision: {args.aurum}: not an executable aurum binary", file=sys.stderr)
        return 2
    torch.set_num_threads(2)
    all_ok = True
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or tmp
        os.makedirs(workdir, exist_ok=True)
        for name in names:
            ok, line = check(name, os.path.abspath(args.aurum), workdir)
            print(line, flush=True)
            all_ok &= ok
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
