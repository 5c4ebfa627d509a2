"""ONNX Runtime vs PyTorch inference on the graphs `rnnlab export` writes, side by side in one process.

Usage: python bench/onnx_speed.py [--threads 1] [--repeats 30]
Rows: a HAR-shaped classifier (128 steps x 9 features, bidirectional LSTM, hidden 64, 2 layers) at batch 1
and 64 through its 'sequence' graph, and a CharLM (LSTM, hidden 512, 2 layers, vocabulary 65) 'step' graph
at batch 1. PyTorch runs the same wrapped module under no_grad with torch.set_num_threads matched to ONNX
Runtime's intra-op threads; timings are interleaved (torch, ORT, torch, ...) and the median of `repeats`
calls is reported, after warm-up. ratio = torch / ORT (above 1: ONNX Runtime is faster).
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import torch

from rnnlab.export.onnx import max_error, session, to_onnx
from rnnlab.models import build_model
from rnnlab.tasks import get


def rows() -> list[tuple[str, str, dict, str, tuple]]:
    """(row name, task, model kind + config, graph name, inputs)."""
    har = dict(n_features=9, n_classes=6, cell="lstm", hidden=64, layers=2, bidirectional=True)
    lm = dict(vocab_size=65, cell="lstm", hidden=512, layers=2)
    out = []
    for batch in (1, 64):
        x = torch.randn(batch, 128, 9)
        lengths = torch.full((batch,), 128)
        lengths[1:] = 100  # ragged when batch > 1
        state = tuple(torch.zeros(4, batch, 64) for _ in range(2))
        out.append(
            (
                f"har bi-LSTM 128x9 h64 B={batch}",
                "classify",
                ("SequenceClassifier", har),
                "sequence",
                (x, lengths, *state),
            )
        )
    ids = torch.randint(0, 65, (1,))
    state = tuple(torch.zeros(2, 1, 512) for _ in range(2))
    out.append(("charlm LSTM h512 x2 step B=1", "charlm", ("CharLM", lm), "step", (ids, *state)))
    return out


def ms(fn) -> float:
    """Milliseconds one call of fn takes."""
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeats", type=int, default=30)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(
        f"threads {args.threads} (torch.set_num_threads = ORT intra_op_num_threads), median of {args.repeats}"
    )
    print(f"{'model':34s} {'torch ms':>9s} {'ORT ms':>9s} {'ratio':>6s} {'max err':>8s}")
    for name, task, (kind, cfg), graph_name, inputs in rows():
        model = build_model(kind, **cfg).eval()
        graph = next(g for g in get(task).graphs(model) if g.name == graph_name)
        data = to_onnx(graph)
        sess = session(data, threads=args.threads)
        feeds = {n: t.numpy() for n, t in zip(graph.inputs, inputs, strict=True)}
        module = graph.module.eval()

        def run_torch(module=module, inputs=inputs):
            with torch.no_grad():
                module(*inputs)

        def run_ort(sess=sess, feeds=feeds):
            sess.run(None, feeds)

        for _ in range(3):  # warm-up
            run_torch()
            run_ort()
        t_torch, t_ort = [], []
        for _ in range(args.repeats):  # interleaved, so machine noise hits both alike
            t_torch.append(ms(run_torch))
            t_ort.append(ms(run_ort))
        a, b = statistics.median(t_torch), statistics.median(t_ort)
        err = max_error(replace(graph, example=inputs), data)
        print(f"{name:34s} {a:9.3f} {b:9.3f} {a / b:6.2f} {err:8.1e}")


if __name__ == "__main__":
    main()
