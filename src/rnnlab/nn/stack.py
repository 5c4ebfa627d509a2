"""Stacking and bidirectional: the walk over layers and directions that `Recurrent` and `MinRNN` share.

A stack has ``num_layers`` layers of ``num_directions`` directions (2 when bidirectional: forward, then
reverse). Its state is a tuple of ``state_size`` tensors ((h,), (h, c) or xLSTM's (h, c, n, m)), each
(num_layers * num_directions, batch, width), layer k direction d at index k * num_directions + d
(``torch.nn.LSTM``'s layout); width is hidden unless the layer says otherwise (``state_widths``: mLSTM's
matrix memory is wider); parameters
carry the suffix ``_l{k}[_reverse]``. A layer's directions read the same input and their outputs are
concatenated; dropout (standard or locked) sits between layers, and with ``residual`` every layer above the
first adds its input to its output. What one layer or direction computes is passed in as a function,
so the stack holds no parameters and the layers' state-dict keys stay PyTorch's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError
from rnnlab.nn.lengths import check_input
from rnnlab.nn.regularize import locked_dropout

State = tuple[Tensor, ...]
T = TypeVar("T")
STATE_NAMES = ("h", "c", "n", "m")  # the state tensors by position: hidden, cell, normaliser, stabiliser


class Stacked(Protocol):
    """What the functions here read from a layer (`Recurrent`, `MinRNN`)."""

    input_size: int
    hidden_size: int
    num_layers: int
    num_directions: int
    bidirectional: bool
    dropout: float
    training: bool

    @property
    def state_size(self) -> int: ...


def suffix(layer: int, direction: int) -> str:
    """Parameter-name suffix of one (layer, direction), as torch.nn.LSTM names it: '_l1', '_l0_reverse'."""
    return f"_l{layer}" + ("_reverse" if direction else "")


def check_arguments(input_size: int, hidden_size: int, num_layers: int, dropout: float) -> None:
    """Refuse a stack's bad sizes at construction, naming the argument."""
    if int(input_size) < 1 or int(hidden_size) < 1:
        raise ConfigError(
            f"input_size and hidden_size must be >= 1, got input_size={input_size}, hidden_size={hidden_size}"
        )
    if int(num_layers) < 1:
        raise ConfigError(f"num_layers must be >= 1, got {num_layers}")
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout}")


def state_widths(m: Stacked) -> tuple[int, ...]:
    """Last-axis width of each state tensor: the layer's ``state_widths`` if it has one, else hidden each."""
    return tuple(getattr(m, "state_widths", (m.hidden_size,) * m.state_size))


def zero_state(m: Stacked, batch: int, like: Tensor, device=None, dtype=None) -> State:
    """Zero state: `state_size` tensors (layers * directions, batch, width) on `like`'s device and dtype."""
    device, dtype = device or like.device, dtype or like.dtype
    rows = m.num_layers * m.num_directions
    return tuple(torch.zeros((rows, batch, w), device=device, dtype=dtype) for w in state_widths(m))


def check_state(m: Stacked, state, batch: int, like: Tensor) -> State:
    """The state as a tuple of the documented shapes (zeros when None); a bare tensor counts as (h,)."""
    if state is None:
        return zero_state(m, batch, like)
    state = tuple(state) if isinstance(state, (tuple, list)) else (state,)
    names = STATE_NAMES[: m.state_size]
    if len(state) != len(names):
        raise ValueError(
            f"state must be a {len(names)}-tuple ({', '.join(names)},), got {len(state)} tensor(s); "
            "start from init_state(batch)"
        )
    for name, width, s in zip(names, state_widths(m), state, strict=True):
        want = (m.num_layers * m.num_directions, batch, width)
        if tuple(s.shape) != want:
            raise ValueError(
                f"state {name} must have shape {want} (layers * directions, batch, width), "
                f"got {tuple(s.shape)}; start from init_state(batch)"
            )
    return state


def outside_autocast(run: Callable[..., T], x: Tensor, lengths: Tensor | None, state: State) -> T:
    """`run(x, lengths, state)` in float32 with autocast off: for the C++ loops (float32/64 only) and the
    scans (a log-space scan in bfloat16 loses the small gates); under train.precision bf16-mixed."""
    with torch.autocast(x.device.type, enabled=False):
        return run(x.float(), lengths, tuple(s.float() for s in state))


def check_call(m: Stacked, x: Tensor, lengths, state) -> tuple[Tensor | None, State]:
    """Validate a forward call's input, lengths (None when all full) and state (zeros when None)."""
    lengths = check_input(x, m.input_size, lengths)
    return lengths, check_state(m, state, x.shape[0], x)


def over_layers(
    m: Stacked, x: Tensor, state: State, run_layer: Callable[[int, Tensor, State], tuple[Tensor, State]]
) -> tuple[Tensor, State]:
    """Walk the layers bottom up with dropout between them.

    `run_layer(k, inp, s0)` gets layer k's slice of every state tensor (num_directions, B, H) and returns its
    output (B, T, D*H) and final state, each state tensor (D, B, H) or a sequence of D tensors (B, H).
    Returns the top layer's output and the final state stacked back to (num_layers * D, B, H).
    """
    nd = m.num_directions
    finals: list[list[Tensor]] = [[] for _ in state]
    inp = x
    for k in range(m.num_layers):
        out, s_n = run_layer(k, inp, tuple(s[k * nd : (k + 1) * nd] for s in state))
        for f, s in zip(finals, s_n, strict=True):
            f.extend(s)
        inp = out + inp if k > 0 and getattr(m, "residual", False) else out
        if k < m.num_layers - 1:
            inp = between_layers(m, inp)
    return inp, tuple(torch.stack(f) for f in finals)


def between_layers(m: Stacked, x: Tensor) -> Tensor:
    """The dropout between two layers: locked (one mask per sequence, `locked_dropout`) or standard."""
    locked = getattr(m, "locked_dropout", 0.0)
    if locked > 0:
        return locked_dropout(x, locked, m.training)
    return nn.functional.dropout(x, m.dropout, m.training) if m.dropout > 0 else x


def over_directions(
    m: Stacked, s0: State, run: Callable[[int, State], tuple[Tensor, State]]
) -> tuple[Tensor, tuple[Sequence[Tensor], ...]]:
    """One layer's directions: `run(d, s0_d)` returns direction d's output (B, T, H) in time order and its
    final state (B, H) each; outputs are concatenated forward then reverse, as `over_layers` expects."""
    outs: list[Tensor] = []
    finals: list[list[Tensor]] = [[] for _ in s0]
    for d in range(m.num_directions):
        out, s_n = run(d, tuple(s[d] for s in s0))
        outs.append(out)
        for f, s in zip(finals, s_n, strict=True):
            f.append(s)
    return (torch.cat(outs, dim=-1) if len(outs) > 1 else outs[0]), tuple(finals)


def over_stack(
    m: Stacked, x: Tensor, state: State, run: Callable[[int, int, Tensor, State], tuple[Tensor, State]]
) -> tuple[Tensor, State]:
    """Every (layer, direction): `run(k, d, inp, s0)` returns that direction's output (B, T, H) in time order
    and its final state; directions concatenated, dropout between layers."""
    return over_layers(m, x, state, lambda k, inp, s0: over_directions(m, s0, lambda d, s: run(k, d, inp, s)))


def step_layers(
    m: Stacked, x_t: Tensor, state, reset: Tensor | None, step_layer: Callable[[int, Tensor, State], State]
) -> tuple[Tensor, State]:
    """One time step up the stack: `step_layer(k, inp, s_k)` returns layer k's new state, h first; `reset`
    (B,) bool zeroes those samples' state first. Returns (h of the top layer (B, H), new state)."""
    if m.bidirectional:
        raise ConfigError("step() streams forward in time, which a bidirectional layer cannot; use forward()")
    if x_t.dim() != 2 or x_t.shape[1] != m.input_size:
        raise ValueError(f"step expects x_t of shape (batch, {m.input_size}), got {tuple(x_t.shape)}")
    state = check_state(m, state, x_t.shape[0], x_t)
    if reset is not None:
        keep = (~reset.bool()).to(x_t.dtype).view(1, -1, 1)
        state = tuple(s * keep for s in state)
    new: list[list[Tensor]] = [[] for _ in state]
    inp = x_t
    for k in range(m.num_layers):
        s_k = step_layer(k, inp, tuple(s[k] for s in state))
        for n, s in zip(new, s_k, strict=True):
            n.append(s)
        inp = s_k[0] + inp if k > 0 and getattr(m, "residual", False) else s_k[0]
        if k < m.num_layers - 1:
            inp = between_layers(m, inp)
    return inp, tuple(torch.stack(n) for n in new)
