import pytest
import torch

from rnnlab.data.augment import Augment
from rnnlab.data.datamodule import SequenceDataModule
from rnnlab.data.sequences import SequenceSet
from rnnlab.errors import ConfigError


def test_inactive_is_identity():
    x = torch.randn(4, 10, 3)
    assert Augment()(x, torch.full((4,), 10)) is x


def test_padding_stays_zero_and_valid_steps_change():
    x = torch.randn(3, 8, 2)
    lengths = torch.tensor([8, 5, 2])
    x[1, 5:] = 0
    x[2, 2:] = 0
    out = Augment(scale=0.1, jitter=0.05, seed=1)(x, lengths)
    assert torch.all(out[1, 5:] == 0) and torch.all(out[2, 2:] == 0)
    assert not torch.allclose(out[0], x[0])
    assert (out - x).abs().mean() < 0.3  # mild, not a different signal


def test_gain_is_per_sequence_and_channel():
    x = torch.ones(2, 50, 3)
    out = Augment(scale=0.2, seed=0)(x, torch.full((2,), 50))
    # no jitter: every step of one channel carries the same gain
    assert torch.allclose(out.std(dim=1), torch.zeros(2, 3), atol=1e-6)
    assert out[:, 0].std() > 0.01


def test_seeded_and_reproducible():
    x = torch.randn(2, 6, 2)
    n = torch.full((2,), 6)
    assert torch.equal(Augment(0.1, 0.1, seed=3)(x, n), Augment(0.1, 0.1, seed=3)(x, n))


def test_negative_is_config_error():
    with pytest.raises(ConfigError, match="augment"):
        Augment(scale=-0.1)


def test_only_training_batches_are_augmented():
    rng = torch.Generator().manual_seed(0)
    x = torch.randn(20, 5, 2, generator=rng).numpy()
    y = (torch.arange(20) % 2).numpy()
    s = SequenceSet(x, [5] * 20, y, ["a", "b"], ["f0", "f1"])
    dm = SequenceDataModule(s, s, s, batch_size=20, scale=False, augment=Augment(0.2, 0.2))
    train = next(iter(dm.train_dataloader()))
    val = next(iter(dm.val_dataloader()))
    assert torch.allclose(val["x"], torch.from_numpy(x))
    assert not torch.allclose(train["x"], torch.from_numpy(x)[train["index"]])
