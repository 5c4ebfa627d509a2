"""CharLM: shapes, carried state == one long pass, streaming step == forward, tying, sampling rules."""

from __future__ import annotations

import pytest
import torch

from rnnlab.errors import ConfigError
from rnnlab.models.language import CharLM
from rnnlab.models.sampling import filter_logits, sample_next


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_carried_chunks_equal_one_pass_and_step_equals_forward(cell):
    torch.manual_seed(0)
    m = CharLM(30, cell=cell, hidden=24, layers=2, embed=8, dropout=0.0).eval()
    x = torch.randint(0, 30, (3, 20))
    full = m(x)
    a = m(x[:, :12])
    b = m(x[:, 12:], a.state)
    torch.testing.assert_close(torch.cat([a.logits, b.logits], 1), full.logits, atol=1e-5, rtol=1e-5)
    state, steps = None, []
    for t in range(x.shape[1]):
        logits, state = m.step(x[:, t], state)
        steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, 1), full.logits, atol=1e-5, rtol=1e-5)
    for s_full, s_step in zip(full.state, state, strict=True):
        torch.testing.assert_close(s_full, s_step, atol=1e-5, rtol=1e-5)


def test_loss_is_mean_nats_and_tied_weights_are_shared():
    m = CharLM(40, hidden=16, layers=1, tie=True)
    assert m.decoder.weight is m.embedding.weight and m.config["embed"] == 16
    x = torch.randint(0, 40, (2, 7))
    out = m(x, y=x)
    ref = torch.nn.functional.cross_entropy(out.logits.reshape(-1, 40), x.reshape(-1))
    torch.testing.assert_close(out.loss, ref)
    with pytest.raises(ConfigError, match="embed must be 0 or hidden"):
        CharLM(40, hidden=16, embed=8, tie=True)
    with pytest.raises(ConfigError, match="vocab_size"):
        CharLM(1)


def test_generate_is_reproducible_and_greedy_is_argmax():
    torch.manual_seed(0)
    m = CharLM(20, hidden=16, layers=1)
    prime = torch.tensor([1, 2, 3])
    g = lambda: torch.Generator().manual_seed(7)  # noqa: E731
    a = m.generate(prime, 50, temperature=0.8, generator=g())
    b = m.generate(prime, 50, temperature=0.8, generator=g())
    assert a.shape == (1, 50) and torch.equal(a, b)
    greedy = m.generate(prime, 5, greedy=True)
    out = m(prime[None])
    assert int(greedy[0, 0]) == int(out.logits[0, -1].argmax())
    assert m.training  # generate restores the training flag


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"temperature": 0.0}, "temperature must be > 0"),
        ({"temperature": -1.0}, "temperature must be > 0"),
        ({"top_k": 0}, "top_k"),
        ({"top_p": 1.5}, "top_p"),
    ],
)
def test_bad_sampling_settings_are_clear_errors(kwargs, match):
    m = CharLM(10, hidden=8, layers=1)
    with pytest.raises(ConfigError, match=match):
        m.generate(torch.tensor([1]), 5, **kwargs)
    with pytest.raises(ConfigError, match="length must be >= 1"):
        m.generate(torch.tensor([1]), 0)


def test_top_k_and_top_p_keep_the_right_tokens():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    k = filter_logits(logits, top_k=2)
    assert torch.isfinite(k).tolist() == [[True, True, False, False]]
    p = filter_logits(logits, top_p=0.8)  # 0.5 + 0.3 reaches 0.8: the rest go
    assert torch.isfinite(p).tolist() == [[True, True, False, False]]
    p = filter_logits(logits, top_p=0.81)
    assert torch.isfinite(p).tolist() == [[True, True, True, False]]
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([sample_next(logits, 1.0, top_k=1, generator=g) for _ in range(20)])
    assert (draws == 0).all()
