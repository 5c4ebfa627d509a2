"""What a session lent a GPU runs first: every layer kind on CUDA against its own reference loop (outputs, final
states and every gradient, float64 and float32, 2 layers, bidirectional, ragged), before `rnnlab bench
--device cuda` times them.

Usage (repository root, no install needed): PYTHONPATH=src python3 bench/gpu_check.py
Prints one line per (kind, dtype): the largest absolute difference and the path the fast layer ran.
"""

from __future__ import annotations

import torch

from rnnlab.nn.layers import LAYER_KINDS, make_layer


def largest_difference(kind: str, dtype: torch.dtype, device: str = "cuda") -> tuple[float, str]:
    """max |fast - reference| over outputs, states and gradients for one layer kind."""
    torch.manual_seed(0)
    fast = make_layer(kind, 5, 16, num_layers=2, bidirectional=True).to(device, dtype)
    ref = make_layer(kind, 5, 16, num_layers=2, bidirectional=True, fast_path="off").to(device, dtype)
    ref.load_state_dict(fast.state_dict())
    x = torch.randn(4, 20, 5, device=device, dtype=dtype)
    lengths = torch.tensor([20, 7, 13, 1], device=device)
    values = []
    for layer in (fast, ref):
        xx = x.clone().requires_grad_()
        out, state = layer(xx, lengths)
        (out.pow(2).sum() + sum(s.sum() for s in state)).backward()
        values.append([out, *state, xx.grad, *(p.grad for p in layer.parameters())])
    diff = max((a - b).abs().max().item() for a, b in zip(*values, strict=True))
    return diff, getattr(fast, "path", getattr(fast, "scan", "?"))


def main() -> None:
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}", flush=True)
    for kind in LAYER_KINDS:
        for dtype in (torch.float64, torch.float32):
            diff, path = largest_difference(kind, dtype)
            print(f"{kind:8s} {str(dtype):14s} path={path:9s} max|fast - reference| = {diff:.2e}", flush=True)


if __name__ == "__main__":
    main()
