"""The AWD-LSTM regularisation kit (Merity et al. 2017) and zoneout (Krueger et al. 2016), as plain functions
the layers and models call: weight drop (DropConnect on W_hh), locked (variational) dropout, embedding
dropout, zoneout, activation regularisation (AR/TAR) and the forget-bias / orthogonal initialisations.

Every function is the identity in eval mode except zoneout, whose eval step is its expectation.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnlab.errors import ConfigError

INITS = ("default", "orthogonal")


def check_rate(name: str, p: float) -> float:
    """A drop/zoneout probability in [0, 1), or a one-line error naming the key."""
    if not 0.0 <= float(p) < 1.0:
        raise ConfigError(f"{name} must be in [0, 1) (0 = off), got {p}")
    return float(p)


def check_init(init: str) -> str:
    """The recurrent-weight initialisation name, or a one-line error listing the choices."""
    if init not in INITS:
        raise ConfigError(f"init must be one of {INITS}, got {init!r}")
    return init


def locked_dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """Dropout with one mask per sequence shared over time: x (B, T, F) gets a (B, 1, F) mask; (B, F) one
    mask per row. Gal & Ghahramani's variational dropout, as AWD-LSTM applies it between layers."""
    if not training or p == 0.0:
        return x
    shape = (x.shape[0], 1, x.shape[-1]) if x.dim() == 3 else x.shape
    keep = torch.empty(shape, device=x.device, dtype=x.dtype).bernoulli_(1.0 - p)
    return x * keep / (1.0 - p)


class LockedDropout(nn.Module):
    """`locked_dropout` as a module (active in training mode only)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = check_rate("locked_dropout", p)

    def forward(self, x: Tensor) -> Tensor:
        return locked_dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def embedding_dropout(embedding: nn.Embedding, ids: Tensor, p: float, training: bool) -> Tensor:
    """Look `ids` up in `embedding` with whole rows (tokens) of its matrix dropped and the rest scaled by
    1/(1-p): a dropped token is zero everywhere in the batch (Gal & Ghahramani; AWD-LSTM's embedding dropout)."""
    if not training or p == 0.0:
        return embedding(ids)
    w = embedding.weight
    keep = torch.empty((w.shape[0], 1), device=w.device, dtype=w.dtype).bernoulli_(1.0 - p)
    return nn.functional.embedding(ids, w * keep / (1.0 - p), embedding.padding_idx)


def drop_weight(w: Tensor, p: float, training: bool) -> Tensor:
    """DropConnect on a weight matrix: a fresh mask per call in training, the weight itself in eval."""
    if not training or p == 0.0:
        return w
    return nn.functional.dropout(w, p, True)


def zoneout(
    new: tuple[Tensor, ...], old: tuple[Tensor, ...], p: float | tuple[float, ...], training: bool
) -> tuple[Tensor, ...]:
    """Zoneout of the state tensors at `p`, one rate for all or one per tensor (the LSTM's h and c): in
    training each unit keeps its previous value with its tensor's rate (a fresh Bernoulli mask per step and
    sample); in eval the expectation p * old + (1 - p) * new. A tensor at rate 0 passes through untouched."""
    rates = _rates(p, len(new))
    if not any(rates):
        return new
    if not training:
        return tuple(
            n if r == 0.0 else r * o + (1.0 - r) * n for n, o, r in zip(new, old, rates, strict=True)
        )
    return tuple(
        n if r == 0.0 else torch.where(torch.empty_like(n).bernoulli_(r).bool(), o, n)
        for n, o, r in zip(new, old, rates, strict=True)
    )


def zoneout_masks(
    p: float | tuple[float, ...], shape: tuple[int, ...], like: Tensor, training: bool, count: int = 2
) -> tuple[Tensor | None, ...]:
    """The (T, B, H) keep masks of the state tensors (h and c: 2; the GRU's h: 1) for one training forward (1
    keeps the previous value, drawn with the tensor's rate: `p`, one rate for all `count` or one per tensor);
    Nones in eval, where the loops use the rates themselves, zoneout's expectation."""
    rates = _rates(p, count)
    if not training or not any(rates):
        return (None,) * len(rates)
    return tuple(torch.empty(shape, dtype=like.dtype, device=like.device).bernoulli_(r) for r in rates)


def _rates(p: float | tuple[float, ...], count: int) -> tuple[float, ...]:
    """Zoneout's rate per state tensor: `p` itself when it gives one per tensor, else `p` for each of
    `count`."""
    return p if isinstance(p, tuple) else (p,) * count


def activation_penalty(h: Tensor, dropped: Tensor, ar: float, tar: float) -> Tensor:
    """AR + TAR (Merity et al. 2017): ar * mean(dropped^2) on the top layer's dropped outputs plus
    tar * mean((h_t - h_{t-1})^2) on its outputs before dropout; h and dropped are (B, T, H)."""
    penalty = h.new_zeros(())
    if ar > 0:
        penalty = penalty + ar * dropped.pow(2).mean()
    if tar > 0 and h.shape[1] > 1:
        penalty = penalty + tar * (h[:, 1:] - h[:, :-1]).pow(2).mean()
    return penalty


@torch.no_grad()
def init_recurrent(
    params: dict[str, Tensor], hidden: int, n_gates: int, init: str, forget_bias: float | None
) -> None:
    """Orthogonal W_hh gate blocks (`init` 'orthogonal': each (H, H) block has W W^T = I) and the LSTM
    forget-gate bias (b_ih's f slice = forget_bias, b_hh's = 0, so their sum is forget_bias), in place."""
    for name, p in params.items():
        if init == "orthogonal" and name.startswith("weight_hh"):
            for g in range(n_gates):
                nn.init.orthogonal_(p[g * hidden : (g + 1) * hidden])
        if forget_bias is not None and name.startswith(("bias_ih", "bias_hh")):
            p[hidden : 2 * hidden] = forget_bias if name.startswith("bias_ih") else 0.0
