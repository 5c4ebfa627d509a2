"""Recipe -> datamodule and model. Sizes (features, classes, window length) are read off the data."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from rnnlab.config import DataConfig, ModelConfig, Recipe
from rnnlab.data.augment import Augment
from rnnlab.data.datamodule import SequenceDataModule, split_by_group
from rnnlab.data.sequences import SequenceSet
from rnnlab.errors import ConfigError


def _builtin_loaders() -> dict[str, Callable[[], tuple[SequenceSet, SequenceSet]]]:
    from functools import partial

    from rnnlab.data.basic_motions import load_basic_motions
    from rnnlab.data.har import load_har
    from rnnlab.data.mnist import load_digits

    digits = {name: partial(load_digits, name) for name in DIGIT_DATA}
    return {"har": load_har, "basic_motions": load_basic_motions, **digits}


DIGIT_DATA = ("mnist-10k", "mnist-5k", "fashion")
DIGIT_VIEWS = ("rows", "pixels", "permuted")
BUILTIN_DATA = ("har", "basic_motions", *DIGIT_DATA, "pbc")
TEXT_DATA = ("shakespeare", "shakespeare-full", "text")
TASKS = ("classify", "charlm", "forecast", "seq2seq")
SEQ2SEQ_KINDS = ("Seq2Seq", "Captioner")


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
        from rnnlab.data.userdata import read_user_data

        return read_user_data(cfg.path, **user_data_options(cfg)), None
    if cfg.name == "pbc":
        return _pbc_sets(cfg)
    loaders = _builtin_loaders()
    if cfg.name not in loaders:
        raise ConfigError(
            f"unknown data set {cfg.name!r}; built-in: {sorted(loaders)}, or 'user' with data.path"
        )
    train, test = loaders[cfg.name]()
    if cfg.name in DIGIT_DATA and cfg.view != "rows":
        from rnnlab.data.mnist import pixel_set

        seed = 0 if cfg.view == "permuted" else None  # one fixed permutation for every run
        train, test = pixel_set(train, seed), pixel_set(test, seed)
    return train, test


def _pbc_sets(cfg: DataConfig) -> tuple[SequenceSet, SequenceSet]:
    """PBC patients split 80/20 by patient (stratified, fixed seed 0: the test patients never change), scaled
    with PbcScaler fit on the 80% (logs skewed labs, standardises measured values only, keeps masks 0/1)."""
    from rnnlab.data.pbc import PbcScaler, load_pbc, split_patients

    train, test = split_patients(load_pbc(cfg.landmark_years), (0.8, 0.2), seed=0)
    scaler = PbcScaler.fit(train)
    return scaler.transform(train), scaler.transform(test)


def check_recipe(recipe: Recipe) -> None:
    """Validate names in the recipe before any data is fetched, so a typo fails in a second, not after a download."""
    from rnnlab.models import MODELS
    from rnnlab.models.heads import READOUTS
    from rnnlab.nn.layers import LAYER_KINDS
    from rnnlab.nn.recurrent import FAST_PATH_MODES
    from rnnlab.train.tasks import SCHEDULES

    if recipe.task not in TASKS:
        raise ConfigError(f"unknown task {recipe.task!r}; choose one of {list(TASKS)}")
    from rnnlab.data.forecastdata import SERIES_DATA
    from rnnlab.data.textclass import LEVELS, TEXT_CLASS_DATA
    from rnnlab.data.windows import FILL_METHODS
    from rnnlab.models.classifier import RAGGED
    from rnnlab.models.forecaster import DECODERS
    from rnnlab.models.seq2seq import ATTENTION_KINDS

    lm, fc, s2s = recipe.task == "charlm", recipe.task == "forecast", recipe.task == "seq2seq"
    data_names = (
        TEXT_DATA
        if lm
        else SERIES_DATA
        if fc
        else ("captions", "folio")
        if s2s
        else (*BUILTIN_DATA, *TEXT_CLASS_DATA, "user")
    )
    kinds = (
        ("CharLM",)
        if lm
        else ("Forecaster",)
        if fc
        else SEQ2SEQ_KINDS
        if s2s
        else tuple(k for k in MODELS if k not in ("CharLM", "Forecaster", *SEQ2SEQ_KINDS))
    )
    checks = [
        ("data.name", recipe.data.name, data_names),
        ("model.kind", recipe.model.kind, kinds),
        ("model.cell", recipe.model.cell, LAYER_KINDS),
        ("model.readout", recipe.model.readout, READOUTS),
        ("model.fast_path", recipe.model.fast_path, FAST_PATH_MODES),
        ("train.schedule", recipe.train.schedule, SCHEDULES),
        (
            "train.monitor",
            recipe.train.monitor,
            ("val_loss",) if fc else ("val_loss", "val_exact") if s2s else ("val_loss", "val_acc", "val_f1"),
        ),
        ("model.decoder", recipe.model.decoder, DECODERS),
        ("model.attention", recipe.model.attention, ATTENTION_KINDS),
        ("train.restore", recipe.train.restore, ("best", "last")),
        ("data.view", recipe.data.view, DIGIT_VIEWS),
        ("data.level", recipe.data.level, LEVELS),
        ("model.ragged", recipe.model.ragged, RAGGED),
        ("data.fill", recipe.data.fill, FILL_METHODS),
    ]
    for key, value, allowed in checks:
        if value not in allowed:
            word = "cell" if key == "model.cell" else key
            raise ConfigError(f"unknown {word} {value!r} for {key}; choose one of {sorted(allowed)}")
    from rnnlab.train.baselines import BASELINES

    unknown = [b for b in recipe.train.baselines or [] if b not in BASELINES]
    if unknown:
        raise ConfigError(
            f"unknown baseline(s) {unknown} in train.baselines; choose from {sorted(BASELINES)}"
        )
    Augment(recipe.data.augment_scale, recipe.data.augment_jitter)  # raises on negative values
    if lm and recipe.data.name == "text" and not recipe.data.path:
        raise ConfigError("data.name 'text' needs a file: pass --text PATH (a UTF-8 text file)")
    if recipe.data.bptt < 1 or recipe.data.batch_size < 1:
        raise ConfigError(
            f"data.bptt and data.batch_size must be >= 1, got {recipe.data.bptt} and {recipe.data.batch_size}"
        )


def make_datamodule(recipe: Recipe) -> SequenceDataModule:
    """Load the recipe's data, hold out validation (by subject where known) and build the datamodule.

    User data without a test set is split three ways: test and validation each take `val_fraction`.
    """
    check_recipe(recipe)
    cfg, seed = recipe.data, recipe.train.seed
    from rnnlab.data.textclass import TEXT_CLASS_DATA, make_text_class_datamodule

    if cfg.name in TEXT_CLASS_DATA:
        return make_text_class_datamodule(cfg, seed)
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


def make_model(cfg: ModelConfig, dm: SequenceDataModule) -> nn.Module:
    """The recipe's model, sized from the datamodule."""
    from rnnlab.models import build_model

    common = {"n_features": dm.n_features, "n_classes": dm.n_classes}
    if cfg.kind == "SequenceClassifier":
        args = dict(
            cell=cfg.cell,
            hidden=cfg.hidden,
            layers=cfg.layers,
            bidirectional=cfg.bidirectional,
            dropout=cfg.dropout,
            readout=cfg.readout,
            fast_path=cfg.fast_path,
            conv_channels=cfg.conv_channels,
            conv_layers=cfg.conv_layers,
            conv_kernel=cfg.kernel,
            vocab_size=getattr(dm, "vocab_size", 0),
            embed=cfg.embed or 64,
            ragged=cfg.ragged,
        )
    elif cfg.kind == "MLPClassifier":
        args = dict(max_len=dm.max_len, hidden=cfg.hidden, layers=cfg.layers, dropout=cfg.dropout)
    elif cfg.kind == "CNN1dClassifier":
        args = dict(channels=cfg.channels, layers=cfg.layers, kernel=cfg.kernel, dropout=cfg.dropout)
    else:
        raise ConfigError(
            f"model.kind {cfg.kind!r} cannot be trained on classification data; "
            "choose SequenceClassifier, MLPClassifier or CNN1dClassifier"
        )
    return build_model(cfg.kind, **common, **args)
