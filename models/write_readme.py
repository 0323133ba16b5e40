"""Rewrite the results table of models/README.md from the <name>.json files.

Design: the json files are what the C tests read; generating the human table from them keeps the two
from drifting. Only the text between the table markers is replaced.
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
BEGIN, END = "<!-- table:begin -->", "<!-- table:end -->"
IMAGE = ("lenet5", "resnet", "mobilenet", "vit")


def load(name):
    path = os.path.join(HERE, f"{name}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def table():
    lines = [
        "Image models, on the 1000-image eval set (`data/fmnist_eval_*.npy`); MACs per image:",
        "",
        "| model | opset | params | MACs | accuracy | loss | Top1-Conf | Top2Diff "
        "| test acc (10k) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in IMAGE:
        j = load(name)
        if j:
            lines.append(
                f"| {name} | {j['opset']} | {j['params']:,} | {j['macs_per_sample']:,} | "
                f"{j['accuracy']:.4f} | {j['loss']:.6f} | {j['top1_conf']:.6f} | "
                f"{j['top2_diff']:.6f} | {j['test_accuracy_10k']:.4f} |"
            )
    j = load("charlm")
    if j:
        lines += [
            "",
            "Character LM, on the 64x64 held-out tokens (`data/charlm_eval_*.npy`); MACs per "
            "64-token sequence:",
            "",
            "| model | opset | params | MACs | vocab | token accuracy | loss (nats) | bits/char "
            "| Top1-Conf | Top2Diff |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| charlm | {j['opset']} | {j['params']:,} | {j['macs_per_sample']:,} | "
            f"{j['vocab']} | "
            f"{j['accuracy']:.4f} | {j['loss']:.6f} | {j['bits_per_char']:.4f} | "
            f"{j['top1_conf']:.6f} | {j['top2_diff']:.6f} |",
        ]
    return "\n".join(lines)


def main():
    path = os.path.join(HERE, "README.md")
    with open(path) as f:
        text = f.read()
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    with open(path, "w") as f:
        f.write(f"{head}{BEGIN}\n{table()}\n{END}{tail}")


if __name__ == "__main__":
    main()
