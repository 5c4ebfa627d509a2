"""Recipes: typed defaults for every key, YAML in, dotted command-line overrides, unknown keys rejected."""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from rnnlab.errors import ConfigError


@dataclass
class DataConfig:
    """Which data and how it is batched. `name`: a built-in data set ('har', 'basic_motions', 'shakespeare',
    'shakespeare-plus', 'shakespeare-full'), 'user' (a CSV/npz at `path`) or 'text' (a UTF-8 file at `path`,
    for charlm).
    bptt/carry: truncated-BPTT chunk length and whether the hidden state carries between chunks (charlm).
    Forecasting ('electricity', 'electricity-daily', 'sp500', 'bitcoin', or 'series' = a CSV at `path`):
    `target` column, `covariates` observed only up to now (default: every column), `future` columns known
    ahead (added to the series' calendar features), lookback/horizon in steps, chronological
    val/test fractions, `train_stride` between training windows, `straddle` lets val/test windows read their
    lookback from the part before, `fill` for missing values (error, ffill, interpolate), `season`
    the seasonal period (0: inferred from the time step; MASE's scale and seasonal naive), `naive_season`
    the seasonal-naive period when it differs (0: `season`); `target_is_change` when the target is itself a change
    (a return): the random walk then forecasts zero and direction is the forecast's sign.
    Digits ('mnist-10k', 'mnist-5k', 'fashion'): `view` rows (28 steps of 28 pixels), pixels (784 steps of 1)
    or permuted (784 pixels in one fixed random order). Clinical ('pbc'): `landmark_years` keeps patients
    alive at the landmark and their visits up to it (null: whole follow-up, which leaks its length).
    Text classification ('tweets', 'reviews', 'sentences', or 'textcsv' = a CSV at `path` with `text_col`
    and `label_col`): token `level` word or char, vocabulary from training documents (tokens seen `min_freq`+
    times, at most `vocab_size`), `max_tokens` truncates each document (null: keep all).
    Sequence to sequence ('captions': strips of 1-4 real MNIST digits and their digit words; 'folio': First
    Folio -> modern Shakespeare lines): `n_train` training strips / at most that many training pairs.
    Panels (task 'panel': 'visnights', 'prison', or 'panel' = a long-format CSV at `path`): `id_col`,
    `time_col`, `target`, `static` per-series category columns; each series' last `horizon` steps are its
    test window and the `val_origins` origins before them its validation windows.
    Synthetic classification ('parity', 'mqar'; rnnlab.data.synthetic, the same data for every seed): parity
    trains on `n_train` bit strings of 1..`train_len` bits and tests on strings of train_len+1..`test_len`
    (0: 3 x train_len); mqar on `n_train` contexts of `train_len` key-value pairs over `vocab_size` keys and
    values (None: 32), tested on contexts of `test_len` pairs (0: train_len)."""

    name: str = "har"
    path: str | None = None
    id_col: str | None = None
    time_col: str | None = None
    label_col: str | None = None
    features: list[str] | None = None
    batch_size: int = 64
    val_fraction: float = 0.2
    scale: bool = True
    augment_scale: float = 0.0
    augment_jitter: float = 0.0
    bptt: int = 128
    carry: bool = True
    target: str | None = None
    covariates: list[str] | None = None
    future: list[str] | None = None
    lookback: int = 48
    horizon: int = 1
    test_fraction: float = 0.2
    train_stride: int = 1
    straddle: bool = False
    fill: str = "error"
    naive_season: int = 0
    season: int = 0
    target_is_change: bool = False
    view: str = "rows"
    landmark_years: float | None = 2.0
    level: str = "word"
    min_freq: int = 2
    vocab_size: int | None = None
    max_tokens: int | None = None
    text_col: str = "text"
    n_train: int | None = None
    static: list[str] | None = None
    val_origins: int = 1
    train_len: int = 0
    test_len: int = 0


@dataclass
class ModelConfig:
    """Architecture. `kind`: SequenceClassifier, MLPClassifier, CNN1dClassifier or CharLM; unused keys are
    ignored by kind. embed/tie: CharLM's embedding width (0 = hidden) and decoder tied to the embedding.
    Forecaster: decoder 'direct' or 'autoregressive', highway = target lags fed linearly to the output
    (LSTNet's autoregressive highway; 0 = none, -1 = the whole lookback), normalize = the target's level inside the model ('level',
    'window' RevIN-style, 'none'; 'auto' picks 'window' when the training target drifts), mc_samples = Monte-Carlo dropout passes for the intervals,
    head = 'point' (MSE) or 'quantile' (19 non-crossing quantiles 0.05..0.95 trained with the pinball loss;
    the forecast is their median, wQL/CRPS come from them, their 80% interval is scored raw and conformalised).
    ragged: variable-length batches 'pack'ed (each sequence runs its own length) or 'mask'ed (padded block,
    masked readout); for text, `embed` is the token embedding width. Seq2Seq / Captioner: `attention`
    bahdanau, luong or none; the Captioner's CNN has `channels` and `feature`-wide column vectors.
    GlobalForecaster (panels): `likelihood` studentt or gaussian; `anchor` seasonal, last or none (what the
    forecast is an offset from).
    Regularisation kit (AWD-LSTM, issue 18; CharLM and SequenceClassifier with rnn/lstm/gru/lnlstm/lngru
    cells, all off by default): `weight_drop` DropConnect on the hidden-to-hidden weights (fused kernel
    kept), `locked_dropout` one dropout mask per sequence on the recurrent layers' inputs, between layers and
    (CharLM) outputs, replacing `dropout` there, `embed_dropout` drops whole embedding rows (CharLM),
    `zoneout` keeps each unit's previous h (and c) with that probability (the LSTM and GRU run their C++
    loops on CPU, other cells the reference loop; the model does not export), `zoneout_c` the LSTM cell
    state's own rate (null: `zoneout`'s; Krueger et al.'s character models zone c at 0.5, h at 0.05),
    `residual` adds each stacked layer's input to its output, `forget_bias` the LSTM forget-gate bias (null:
    PyTorch's init), `init` default or orthogonal (W_hh gate blocks), `proj_size`
    LSTM projections (torch.nn.LSTM's; 0 = none, else < hidden; does not export). AR/TAR are train.ar /
    train.tar."""

    kind: str = "SequenceClassifier"
    cell: str = "lstm"
    hidden: int = 128
    layers: int = 2
    bidirectional: bool = False
    dropout: float = 0.1
    readout: str = "last"
    fast_path: str = "auto"
    channels: int = 64
    kernel: int = 5
    conv_channels: int = 0
    conv_layers: int = 2
    embed: int = 0
    tie: bool = False
    decoder: str = "direct"
    highway: int = 0
    normalize: str = "auto"
    mc_samples: int = 100
    ragged: str = "pack"
    attention: str = "luong"
    feature: int = 128
    likelihood: str = "studentt"
    head: str = "point"
    anchor: str = "seasonal"
    weight_drop: float = 0.0
    locked_dropout: float = 0.0
    embed_dropout: float = 0.0
    zoneout: float = 0.0
    zoneout_c: float | None = None
    residual: bool = False
    forget_bias: float | None = None
    init: str = "default"
    proj_size: int = 0


@dataclass
class TrainConfig:
    """Optimisation and stopping. max_time is in minutes of training; schedule: onecycle, cosine, constant.
    A run stopped by max_time ends with its schedule annealed: the char LM, forecasting and seq2seq lay the
    schedule over the time budget; classification keeps torch's over the steps, its position running ahead
    to the share of max_time used when the clock leads (train/optim.make_optimizer).
    restore: which weights are tested, 'best' (on `monitor`) or 'last' (the end of the schedule; for a
    validation set too small to pick among many epochs without fitting its noise). baselines: non-recurrent
    baselines scored on the same split into results.json (classification: logreg).
    devices/num_nodes/strategy: data-parallel training (classification recipes): `devices` processes per
    machine on `num_nodes` machines, each on its 1/N share of every epoch; strategy 'ddp' (or 'auto', which
    picks DDP for several devices; 'ddp_find_unused_parameters_true' for models with unused weights). The
    global batch is devices x num_nodes x data.batch_size. Launch with torchrun or let Lightning start the
    processes; see docs/RELIABILITY.md.
    nan_rollback: 0 stops at the first NaN/inf training loss naming step and batch; N > 0 instead restores the
    last good state (end of the previous epoch), halves the learning rate and goes on, at most N times
    (classification recipes, one process; docs/RELIABILITY.md).
    ar/tar (charlm): activation regularisation ar * mean(h^2) of the top layer's dropped outputs and temporal
    activation regularisation tar * mean((h_t - h_{t-1})^2) of its outputs, added to the training loss
    (Merity et al. 2017; 0 = off; train_loss logs the cross-entropy alone).
    state_reset (charlm with data.carry): before each training chunk every stream's carried state is zeroed
    with this probability, so the model also learns to start cold mid-text; a model trained on carried
    states alone can fall from a cold start into a state it never leaves (results.json val.stuck; 0 = off).
    label_smoothing (classify): the training loss's targets are (1 - e) one-hot + e / classes (Szegedy et al.
    2016; 0 = off); train_loss, val and test losses stay the plain cross-entropy.
    precision: '32' (float32 throughout) or 'bf16-mixed' (Lightning's autocast: matmuls and the fused
    LSTM/GRU kernels in bfloat16, weights and optimiser in float32; 2.3x the characters per second of the
    Shakespeare LSTM on a CPU with AVX512-BF16/AMX, docs/RESULTS.md), or 'auto' (bf16-mixed where bfloat16
    is native, float32 elsewhere; results.json says which ran). rnnlab's own C++ loops stay float32."""

    max_epochs: int = 30
    lr: float = 2e-3
    weight_decay: float = 1e-2
    schedule: str = "onecycle"
    gradient_clip: float = 1.0
    patience: int = 10
    monitor: str = "val_loss"
    restore: str = "best"
    baselines: list[str] | None = None
    max_time: float | None = None
    overfit_batches: int = 0
    seed: int = 0
    deterministic: bool = False
    threads: int | None = None
    teacher_forcing: float = 1.0
    teacher_forcing_end: float | None = None
    beam: int = 5
    length_norm: str = "gnmt"
    devices: int = 1
    num_nodes: int = 1
    strategy: str = "auto"
    nan_rollback: int = 0
    ar: float = 0.0
    tar: float = 0.0
    state_reset: float = 0.0
    label_smoothing: float = 0.0
    precision: str = "32"


@dataclass
class Recipe:
    """A whole run: name, task kind ('classify', 'charlm', 'forecast' or 'seq2seq') and the three sections."""

    name: str = "custom"
    task: str = "classify"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _nearest(key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    return f"did you mean '{close[0]}'?" if close else f"valid keys: {', '.join(valid)}"


def _coerce(value: Any, typ: Any, where: str) -> Any:
    """Check `value` against a field type (int, float, bool, str, list[str], X | None)."""
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(typ)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(value, a, where)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{where}: bad value {value!r}")
    if origin is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        (inner,) = typing.get_args(typ)
        return [_coerce(v, inner, where) for v in value]
    if typ is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where} must be true or false, got {value!r}")
    if typ is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{where} must be an integer, got {value!r}")
        return value
    if typ is float:
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where} must be a number, got {value!r}")
        return float(value)
    if typ is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{where} must be a string, got {value!r}")
        return str(value)
    return value


def _merge(obj: Any, values: dict, prefix: str = "") -> None:
    """Set dataclass fields of `obj` from a nested dict, rejecting unknown keys with the nearest valid one."""
    if not isinstance(values, dict):
        raise ConfigError(
            f"'{prefix.rstrip('.') or 'recipe'}' must be a mapping of keys to values, got {values!r}"
        )
    fields = {f.name: f for f in dataclasses.fields(obj)}
    hints = typing.get_type_hints(type(obj))
    for key, value in values.items():
        where = f"{prefix}{key}"
        if key not in fields:
            raise ConfigError(f"unknown recipe key {where!r}; {_nearest(str(key), list(fields))}")
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            _merge(current, value, where + ".")
        else:
            setattr(obj, key, _coerce(value, hints[key], where))


def recipe_from_dict(d: dict) -> Recipe:
    """A Recipe from a nested dict (YAML), defaults for every key not given."""
    r = Recipe()
    _merge(r, d or {})
    return r


def apply_overrides(recipe: Recipe, overrides: dict[str, Any], explicit: bool = True) -> Recipe:
    """Apply dotted command-line overrides like {'model.cell': 'gru'}; values are parsed as YAML scalars.
    `explicit`: remember the keys as set by the user (`explicit_keys`), so settings chosen later from the
    data (`model.kind: auto`) leave them alone."""
    if explicit:
        recipe.__dict__.setdefault("_explicit", set()).update(overrides)
    for dotted, raw in overrides.items():
        value = yaml.safe_load(raw) if isinstance(raw, str) else raw
        nested: dict = {}
        cur = nested
        parts = dotted.split(".")
        for p in parts[:-1]:
            cur = cur.setdefault(p, {})
        cur[parts[-1]] = value
        _merge(recipe, nested)
    return recipe


def explicit_keys(recipe: Recipe) -> frozenset[str]:
    """The dotted keys set on this recipe by `apply_overrides` (the command line, a sweep trial)."""
    return frozenset(recipe.__dict__.get("_explicit", ()))


def builtin_recipes() -> dict[str, str]:
    """Built-in recipe names -> their first comment line (what they do)."""
    out = {}
    for f in sorted(resources.files("rnnlab.recipes").iterdir()):
        if f.name.endswith(".yaml"):
            first = f.read_text().splitlines()[0] if f.read_text() else ""
            out[f.name[:-5]] = first.lstrip("# ").strip()
    return out


def load_recipe(name_or_path: str) -> Recipe:
    """A built-in recipe by name or a YAML file by path. Its `sweep:` section (the search space of `rnnlab
    sweep`, read by load_sweep_section) is not part of the run's settings and is skipped here."""
    d = _recipe_mapping(name_or_path)
    return recipe_from_dict({k: v for k, v in d.items() if k != "sweep"})


def load_sweep_section(name_or_path: str) -> dict | None:
    """The recipe's `sweep:` section (dotted recipe key -> range or choices), or None when it has none."""
    return _recipe_mapping(name_or_path).get("sweep")


def _recipe_mapping(name_or_path: str) -> dict:
    """The recipe's YAML as a mapping: a built-in by name or a file by path (one-line errors)."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        if not p.is_file():
            raise ConfigError(f"recipe file {p} does not exist")
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise ConfigError(
                f"recipe file {p} is not UTF-8 text (bad byte at offset {e.start}); save it as UTF-8"
            ) from None
    else:
        names = builtin_recipes()
        if name_or_path not in names:
            raise ConfigError(
                f"unknown recipe '{name_or_path}'; {_nearest(name_or_path, list(names))} "
                "(or give a .yaml path)"
            )
        text = resources.files("rnnlab.recipes").joinpath(f"{name_or_path}.yaml").read_text()
    try:
        d = yaml.safe_load(text)
    except (yaml.YAMLError, ValueError, RecursionError) as e:
        # PyYAML's constructors raise plain ValueError for bad scalars (a date 2024-13-01, `!!int 0x`), and
        # nesting thousands deep exhausts the recursion limit
        why = "nested too deeply" if isinstance(e, RecursionError) else (str(e).splitlines() or [""])[0]
        raise ConfigError(
            f"recipe {name_or_path} is not valid YAML: {why or type(e).__name__}; fix the file"
        ) from None
    if d is None:
        return {}
    if not isinstance(d, dict):
        recipe_from_dict(d)  # raises the one-line "'recipe' must be a mapping" error
    return d
