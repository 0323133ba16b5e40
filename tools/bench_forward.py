#!/usr/bin/python3
"""Forward speed of PyTorch versus `aurum bench` on the bundled models and torchvision resnet18.

Design: the PyTorch side times the same architectures as models/train_*.py (randomly initialised:
the speed of a dense forward pass does not depend on the weight values) with torch.no_grad(), two
warm-up runs and the median of --runs timed runs at --threads intra-op threads. The Aurum side runs
`aurum bench model.onnx --batch B --runs N --threads T` and reads its `median_ms=<float>` line. The
result is a Markdown table on stdout; a cell is n/a when aurum fails, and then the exit status is 1.

usage: /usr/bin/python3 tools/bench_forward.py [--aurum PATH] [--threads T] [--runs N]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import warnings

# torch must load before the model scripts: models/common.py switches OpenMP to passive waiting
# for training on a shared machine, and a benchmark should time PyTorch as users run it.
import torch  # noqa: I001
import torchvision

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS_DIR = os.path.join(ROOT, "models")
sys.path.insert(0, MODELS_DIR)


def bundled():
    """(name, onnx path, module, example batch of 64) for each bundled model."""
    import train_charlm
    import train_lenet5
    import train_mobilenet
    import train_resnet
    import train_vit

    img = torch.randn(64, 1, 28, 28)
    vocab = 86
    try:
        with open(os.path.join(MODELS_DIR, "charlm_vocab.json")) as f:
            vocab = len(json.load(f)["chars"])
    except OSError:
        pass
    ids = torch.randint(0, vocab, (64, train_charlm.CONTEXT))
    return [
        ("lenet5", train_lenet5.LeNet5(), img),
        ("resnet", train_resnet.SmallResNet(), img),
        ("mobilenet", train_mobilenet.SmallMobileNet(), img),
        ("vit", train_vit.SmallViT(), img),
        ("charlm", train_charlm.CharLM(vocab), ids),
    ]


def torch_median_ms(model, x, runs):
    model.eval()
    times = []
    with torch.no_grad():
        for i in range(runs + 2):
            t0 = time.perf_counter()
            model(x)
            if i >= 2:
                times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2]


def aurum_median_ms(aurum, onnx_path, batch, runs, threads):
    """The median_ms aurum prints, or (None, reason)."""
    cmd = [aurum, "bench", onnx_path, "--batch", str(batch), "--runs", str(runs),
           "--threads", str(threads)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        return None, f"{aurum}: {e.strerror}"
    m = re.search(r"median_ms=([0-9.eE+-]+)", proc.stdout)
    if proc.returncode != 0 or not m:
        err = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
        return None, f"exit {proc.returncode}: {err[-1] if err else 'no median_ms line'}"
    return float(m.group(1)), None


def export_resnet18(path):
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model, torch.randn(1, 3, 224, 224), path, opset_version=13,
            input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
            do_constant_folding=True, training=torch.onnx.TrainingMode.PRESERVE,
        )
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--aurum", default=os.path.join(ROOT, "build", "cli", "aurum"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    if args.runs < 10:
        ap.error("--runs must be at least 10")
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    rows, failures = [], []

    def measure(name, path, model, x):
        t_ms = torch_median_ms(model, x, args.runs)
        a_ms, err = aurum_median_ms(args.aurum, path, x.shape[0], args.runs, args.threads)
        if err:
            failures.append(f"{name} batch {x.shape[0]}: {err}")
        rows.append((name, x.shape[0], t_ms, a_ms))

    for name, model, x in bundled():
        measure(name, os.path.join(MODELS_DIR, f"{name}.onnx"), model, x)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "resnet18.onnx")
        model = export_resnet18(path)
        for batch in (1, 8):
            measure("torchvision resnet18", path, model, torch.randn(batch, 3, 224, 224))

    print(f"threads={args.threads} runs={args.runs} (median ms per forward pass)\n")
    print("| model | batch | PyTorch ms | Aurum ms | ratio Aurum/PyTorch |")
    print("|---|---:|---:|---:|---:|")
    for name, batch, t_ms, a_ms in rows:
        a = "n/a" if a_ms is None else f"{a_ms:.3f}"
        r = "n/a" if a_ms is None else f"{a_ms / t_ms:.2f}"
        print(f"| {name} | {batch} | {t_ms:.3f} | {a} | {r} |")
    for f in failures:
        print(f"bench_forward: aurum failed on {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
