"""Recipe -> classification datamodule: built-in sequence sets (HAR, digits, PBC, UEA/UCR archive problems), labelled
texts, or the user's CSV/npz; validation held out by subject where the data knows subjects."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from rnnlab.config import DataConfig, Recipe
from rnnlab.data.augment import Augment
from rnnlab.data.basic_motions import load_basic_motions
from rnnlab.data.datamodule import SequenceDataModule, split_by_group
from rnnlab.data.har import load_har
from rnnlab.data.mnist import load_digits, pixel_set
from rnnlab.data.pbc import PbcScaler, load_pbc, split_patients
from rnnlab.data.sequences import SequenceSet
from rnnlab.data.synthetic import mqar_set, parity_set
from rnnlab.data.textclass import TEXT_CLASS_DATA, make_text_class_datamodule
from rnnlab.data.uea import UEA_SETS, load_uea
from rnnlab.data.userdata import read_user_data
from rnnlab.errors import ConfigError


def _builtin_loaders() -> dict[str, Callable[[], tuple[SequenceSet, SequenceSet]]]:
    digits = {name: partial(load_digits, name) for name in DIGIT_DATA}
    uea = {name: partial(load_uea, name) for name in UEA_DATA}
    return {"har": load_har, "basic_motions": load_basic_motions, **digits, **uea}


DIGIT_DATA = ("mnist-10k", "mnist-5k", "fashion")
DIGIT_VIEWS = ("rows", "pixels", "permuted")
SYNTHETIC_DATA = ("parity", "mqar")
UEA_DATA = tuple(UEA_SETS)  # UEA/UCR archive problems, published TRAIN/TEST splits (rnnlab.data.uea)
BUILTIN_DATA = ("har", "basic_motions", *DIGIT_DATA, *UEA_DATA, "pbc", *SYNTHETIC_DATA)


def user_data_options(cfg: DataConfig) -> dict:
    """Reader options for the user's file (CSV column names; none for npz)."""
    if cfg.path is None:
        raise ConfigError("data.name is 'user' but data.path is empty; pass --data FILE (.csv or .npz)")
    if cfg.path.lower().endswith(".csv"):
        missing = [k for k in ("id_col", "time_col", "label_col") if getattr(cfg, k) is None]
        if missing:
            flags = ", ".join("--" + k.replace("_", "-") for k in missing)
            raise ConfigError(
                f"a long-format CSV needs {flags} (the sequence id, time order and label columns)"
            )
        return {
            "id_col": cfg.id_col,
            "time_col": cfg.time_col,
            "label_col": cfg.label_col,
            "features": cfg.features,
        }
    return {}


def load_sets(cfg: DataConfig) -> tuple[SequenceSet, SequenceSet | None]:
    """(train, test) for a built-in data set, or (all, None) for the user's file."""
    if cfg.name == "user":
        return read_user_data(cfg.path, **user_data_options(cfg)), None
    if cfg.name == "pbc":
        return _pbc_sets(cfg)
    if cfg.name in SYNTHETIC_DATA:
        return synthetic_sets(cfg)
    loaders = _builtin_loaders()
    if cfg.name not in loaders:
        raise ConfigError(
            f"unknown data set {cfg.name!r}; built-in: {sorted(loaders)}, or 'user' with data.path"
        )
    train, test = loaders[cfg.name]()
    if cfg.name in DIGIT_DATA and cfg.view != "rows":
        seed = 0 if cfg.view == "permuted" else None  # one fixed permutation for every run
        train, test = pixel_set(train, seed), pixel_set(test, seed)
    return train, test


def _pbc_sets(cfg: DataConfig) -> tuple[SequenceSet, SequenceSet]:
    """PBC patients split 80/20 by patient (stratified, fixed seed 0: the test patients never change), scaled
    with PbcScaler fit on the 80% (logs skewed labs, standardises measured values only, keeps masks 0/1)."""
    train, test = split_patients(load_pbc(cfg.landmark_years), (0.8, 0.2), seed=0)
    scaler = PbcScaler.fit(train)
    return scaler.transform(train), scaler.transform(test)


def synthetic_sets(cfg: DataConfig) -> tuple[SequenceSet, SequenceSet]:
    """(train, test) of a synthetic task (rnnlab.data.synthetic) from fixed seeds: every run sees the same data.

    parity: n_train (default 2000) strings of 1..train_len (20) bits; 1000 test strings of
    train_len+1..test_len (3 x train_len) bits. mqar: n_train (1000) contexts of train_len (8) pairs; 200 test
    contexts of test_len (train_len) pairs; vocab_size (32) keys and values."""
    train_len = cfg.train_len or (20 if cfg.name == "parity" else 8)
    if cfg.name == "parity":
        test_len = cfg.test_len or 3 * train_len
        if test_len <= train_len:
            raise ConfigError(
                f"data.test_len ({test_len}) must exceed data.train_len ({train_len}): parity is tested on longer strings"
            )
        return parity_set(cfg.n_train or 2000, 1, train_len, seed=0), parity_set(
            1000, train_len + 1, test_len, seed=1
        )
    vocab = cfg.vocab_size or 32
    train = mqar_set(cfg.n_train or 1000, train_len, vocab, seed=0)
    return train, mqar_set(200, cfg.test_len or train_len, vocab, seed=1)


def _text_options(cfg: DataConfig) -> dict:
    """The data section's text-classification keys, as make_text_class_datamodule's keyword arguments."""
    return {
        "path": cfg.path,
        "text_col": cfg.text_col,
        "label_col": cfg.label_col,
        "level": cfg.level,
        "min_freq": cfg.min_freq,
        "vocab_size": cfg.vocab_size,
        "max_tokens": cfg.max_tokens,
        "batch_size": cfg.batch_size,
    }


def make_datamodule(recipe: Recipe) -> SequenceDataModule:
    """Load the recipe's data, hold out validation (by subject where known) and build the datamodule.

    User data without a test set is split three ways: test and validation each take `val_fraction`.
    """
    cfg, seed = recipe.data, recipe.train.seed

    if cfg.name in TEXT_CLASS_DATA:
        return make_text_class_datamodule(cfg.name, seed, **_text_options(cfg))
    if not 0.0 < cfg.val_fraction < 0.9:
        raise ConfigError(f"data.val_fraction must be in (0, 0.9), got {cfg.val_fraction}")
    train, test = load_sets(cfg)
    if test is None:
        train, test = split_by_group(train, cfg.val_fraction, seed + 1)
    train, val = split_by_group(train, cfg.val_fraction, seed)
    return SequenceDataModule(
        train,
        val,
        test,
        batch_size=cfg.batch_size,
        scale=cfg.scale,
        seed=seed,
        name=cfg.name if cfg.name != "user" else "user",
        augment=Augment(cfg.augment_scale, cfg.augment_jitter, seed=seed),
    )
