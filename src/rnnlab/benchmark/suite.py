"""The speed suite behind `rnnlab bench`: every layer kind against plain `torch.nn` in the same process.

Rows: training throughput (forward + backward + Adam step, fixed upstream gradient) and inference throughput
(forward under inference_mode) at three shapes, for the fused cells (stacked, bidirectional, ragged included)
the parallel-scan minGRU/minLSTM (reference: torch.nn.GRU of the same size, as the issue asks), the
layer-normalised LSTM/GRU and the xLSTM's sLSTM (reference: the fused torch.nn.LSTM of the same size, the bar
they are held to), plus
streaming step latency at batch 1. Each row carries rnnlab's rate, the reference's, their ratio and the
achieved GFLOP/s as a fraction of the float32 matmul peak measured at the start of the run.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnlab.benchmark.timing import interleaved, median, percentile, recurrent_flops, sync
from rnnlab.nn.layers import make_layer

TORCH = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
# the torch.nn layer each kind is timed against
REFERENCE = {
    "rnn": "rnn",
    "lstm": "lstm",
    "gru": "gru",
    "mingru": "gru",
    "minlstm": "gru",
    "lnlstm": "lstm",
    "lngru": "lstm",
    "slstm": "lstm",  # the xLSTM's scalar cell: four gates, the LSTM's matmul work
}
NORMED = ("lnlstm", "lngru")


@dataclass(frozen=True)
class Shape:
    """One benchmark shape: batch, time, input features, hidden units, layers."""

    name: str
    B: int
    T: int
    F: int
    H: int
    layers: int = 1

    def as_dict(self) -> dict:
        return {"B": self.B, "T": self.T, "F": self.F, "H": self.H, "layers": self.layers}


SENSOR = Shape("sensor", 64, 128, 9, 128)
LANGUAGE = Shape("language", 64, 256, 128, 512, 2)
LONG = Shape("long", 16, 1024, 64, 256)
LONGER = Shape("long", 16, 4096, 64, 256)


@dataclass
class Case:
    """One row to measure: a layer kind at a shape, in a configuration, against its torch.nn reference."""

    kind: str
    shape: Shape
    mode: str = "train"  # train | infer
    bidirectional: bool = False
    ragged: bool = False
    reps: int = 10
    tags: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        extra = "".join(
            f"-{t}" for t in ("bi" if self.bidirectional else "", "ragged" if self.ragged else "") if t
        )
        return f"{self.kind}{extra}-{self.mode}"

    @property
    def reference(self) -> str:
        return f"torch.nn.{TORCH[REFERENCE[self.kind]].__name__}"


def plan(quick: bool = False, device: str = "cpu") -> list[Case]:
    """The rows of a run. quick: the sensor shape, minGRU at T=1024 and the streaming rows (under 2 minutes)."""
    cells = ("lstm", "gru", "rnn")
    cases = [Case(k, SENSOR) for k in cells]
    cases += [Case(k, LONG, reps=5) for k in ("mingru", "minlstm")]
    cases += [Case(k, SENSOR) for k in NORMED]
    if quick:
        return cases
    cases += [Case(k, SENSOR, bidirectional=True) for k in cells]
    cases += [Case(k, SENSOR, ragged=True) for k in cells]
    cases += [Case(k, SENSOR, bidirectional=True, ragged=True) for k in ("lstm",)]
    cases += [Case(k, SENSOR) for k in ("mingru", "minlstm")]
    cases += [Case(k, SENSOR, ragged=True) for k in NORMED]
    cases += [Case("gru", LANGUAGE, ragged=True, reps=5)]
    cases += [Case("lnlstm", SENSOR, bidirectional=True)]
    cases += [Case("slstm", SENSOR), Case("slstm", SENSOR, ragged=True), Case("slstm", LANGUAGE, reps=3)]
    cases += [Case(k, SENSOR, mode="infer", reps=20) for k in (*cells, "mingru", "minlstm", *NORMED)]
    cases += [Case(k, LANGUAGE, reps=5) for k in ("lstm", "gru")]
    cases += [Case(k, LANGUAGE, mode="infer", reps=5) for k in ("lstm", "gru", "mingru", "minlstm")]
    cases += [Case(k, LANGUAGE, reps=5) for k in ("mingru", "minlstm", *NORMED)]
    cases += [Case(k, LONG, reps=5) for k in ("lstm", "gru", "rnn")]
    cases += [Case(k, LONGER, reps=3) for k in ("mingru", "minlstm")]
    return cases


def _pair(case: Case, device: str) -> tuple[nn.Module, nn.Module]:
    s = case.shape
    torch.manual_seed(0)
    ours = make_layer(case.kind, s.F, s.H, s.layers, case.bidirectional).to(device)
    ref_kind = REFERENCE[case.kind]
    ref = TORCH[ref_kind](s.F, s.H, s.layers, batch_first=True, bidirectional=case.bidirectional).to(device)
    if ref_kind == case.kind:
        ref.load_state_dict(ours.state_dict())  # the same weights: the same arithmetic
    return ours, ref


def _runner(model: nn.Module, is_ref: bool, case: Case, x, lengths, grad) -> Callable[[], None]:
    """A closure doing one timed unit of work for `model`."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-4) if case.mode == "train" else None

    def forward():
        if not is_ref:
            return model(x, lengths)[0]
        if lengths is None:
            return model(x)[0]
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        return pad_packed_sequence(model(packed)[0], batch_first=True, total_length=x.shape[1])[0]

    def train():
        opt.zero_grad(set_to_none=True)
        forward().backward(grad)
        opt.step()

    def infer():
        with torch.inference_mode():
            forward()

    return train if case.mode == "train" else infer


def measure(case: Case, peak_gflops: float, device: str = "cpu") -> dict:
    """Time one case against its reference and return its JSON row."""
    s = case.shape
    g = torch.Generator().manual_seed(0)
    x = torch.randn(s.B, s.T, s.F, generator=g).to(device)
    lengths = torch.randint(s.T // 2, s.T + 1, (s.B,), generator=g).to(device) if case.ragged else None
    d = 2 if case.bidirectional else 1
    grad = torch.randn(s.B, s.T, d * s.H, generator=g).to(device)
    ours, ref = _pair(case, device)
    times = interleaved(
        {
            "ours": _runner(ours, False, case, x, lengths, grad),
            "ref": _runner(ref, True, case, x, lengths, grad),
        },
        case.reps,
        device,
    )
    t_ours, t_ref = median(times["ours"]), median(times["ref"])
    steps = float(lengths.sum()) if lengths is not None else s.B * s.T
    flops = recurrent_flops(case.kind, s.B, s.T, s.F, s.H, s.layers, d, case.mode == "train")
    flops *= steps / (s.B * s.T)
    return {
        "name": case.name,
        "shape": s.as_dict(),
        "shape_name": s.name,
        "device": device,
        "mode": case.mode,
        "bidirectional": case.bidirectional,
        "ragged": case.ragged,
        "rnnlab_per_s": s.B / t_ours,
        "rnnlab_steps_per_s": steps / t_ours,
        "path": getattr(ours, "path", None),  # which kernel ran rnnlab's side (Recurrent.path)
        "reference": case.reference,
        "reference_per_s": s.B / t_ref,
        "ratio": t_ref / t_ours,
        "gflops": flops / t_ours / 1e9,
        "peak_fraction": flops / t_ours / 1e9 / peak_gflops,
        "ms": t_ours * 1e3,
        "reference_ms": t_ref * 1e3,
        "reps": case.reps,
    }


def streaming(kind: str, steps: int, device: str = "cpu", f: int = 9, h: int = 128) -> dict:
    """Per-step latency at batch 1 (the real-time sensor case): rnnlab `step()` vs torch.nn.LSTM on one step."""
    torch.manual_seed(0)
    ours = make_layer(kind, f, h).to(device).eval()
    ref = nn.LSTM(f, h, batch_first=True).to(device).eval()
    xs = torch.randn(steps, 1, f, device=device)
    lat: dict[str, list[float]] = {"ours": [], "ref": []}
    with torch.inference_mode():
        state, ref_state = None, None
        for i in range(steps + 50):  # the first 50 steps warm up and are not kept
            x_t = xs[i % steps]
            t0 = time.perf_counter()
            _, state = ours.step(x_t, state)
            sync(device)
            t1 = time.perf_counter()
            _, ref_state = ref(x_t.unsqueeze(1), ref_state)
            sync(device)
            t2 = time.perf_counter()
            if i >= 50:
                lat["ours"].append(t1 - t0)
                lat["ref"].append(t2 - t1)
    p50, p99 = percentile(lat["ours"], 50), percentile(lat["ours"], 99)
    r50, r99 = percentile(lat["ref"], 50), percentile(lat["ref"], 99)
    return {
        "name": f"{kind}-step",
        "shape": {"B": 1, "T": 1, "F": f, "H": h, "layers": 1},
        "shape_name": "streaming",
        "device": device,
        "mode": "step",
        "rnnlab_per_s": 1 / p50,
        "reference": "torch.nn.LSTM (one step)",
        "reference_per_s": 1 / r50,
        "ratio": r50 / p50,
        "p50_us": p50 * 1e6,
        "p99_us": p99 * 1e6,
        "reference_p50_us": r50 * 1e6,
        "reference_p99_us": r99 * 1e6,
        "steps": steps,
    }


def machine(device: str) -> dict:
    """What the numbers were measured on."""
    info = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "cpu": platform.processor() or platform.machine(),
        "load_average": os.getloadavg()[0],
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
    return info
