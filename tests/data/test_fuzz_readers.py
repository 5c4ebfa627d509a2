"""A seeded fuzz run over every file reader: valid small inputs, then mutated bytes (truncation, bit flips,
random insertions and deletions, duplicated chunks, empty files, binary garbage, other text encodings).

The property: a mutated file either loads or raises an `RnnlabError` with a one-line message. Any other
exception (KeyError, IndexError, UnicodeDecodeError, pandas' ParserError, struct.error, zlib.error, PIL's
errors, ...) is a crash the user would see as a traceback, and fails the test with the mutants that caused it.
"""

from __future__ import annotations

import io
import random
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from rnnlab.config import Recipe, load_recipe
from rnnlab.data.images import read_image, save_png
from rnnlab.data.series_csv import read_series_csv
from rnnlab.data.text import make_corpus, read_text
from rnnlab.data.textclass import make_text_class_datamodule
from rnnlab.data.userdata import read_long_csv, read_npz
from rnnlab.errors import RnnlabError
from rnnlab.models import SequenceClassifier
from rnnlab.train.rundir import open_run, save_model, write_json, write_yaml

SEED = 1234
N_MUTANTS = 150
ENCODINGS = ("utf-16", "utf-16-be", "utf-32", "latin-1", "cp1252", "mac-roman")


def mutants(data: bytes, n: int, seed: int, text: bool = False) -> list[tuple[str, bytes]]:
    """`n` damaged versions of `data`, named by how they were made; the same list for the same seed."""
    rng = random.Random(seed)
    out: list[tuple[str, bytes]] = [
        ("empty", b""),
        ("whitespace", b" \n\t\r\n"),
        ("nul bytes", b"\x00" * 64),
        ("garbage", rng.randbytes(300)),
        ("garbage after a valid prefix", data[: len(data) // 2] + rng.randbytes(100)),
        ("doubled", data + data),
    ]
    if text:  # the same text in another encoding (unencodable characters replaced)
        decoded = data.decode("utf-8")
        out += [(f"encoded as {enc}", decoded.encode(enc, errors="replace")) for enc in ENCODINGS]
    kinds = ("truncate", "flip", "set", "insert", "delete", "duplicate")
    while len(out) < n:
        kind = kinds[len(out) % len(kinds)]
        b = bytearray(data)
        i = rng.randrange(len(b))
        if kind == "truncate":
            b = b[:i]
        elif kind == "flip":  # 1-3 single-bit flips
            for _ in range(rng.randint(1, 3)):
                j = rng.randrange(len(b))
                b[j] ^= 1 << rng.randrange(8)
        elif kind == "set":  # 1-3 bytes set to random values
            for _ in range(rng.randint(1, 3)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif kind == "insert":
            b[i:i] = rng.randbytes(rng.randint(1, 8))
        elif kind == "delete":
            del b[i : i + rng.randint(1, 16)]
        else:
            j = rng.randrange(len(b))
            b[i:i] = b[j : j + rng.randint(1, 32)]
        out.append((f"{kind} at {i}", bytes(b)))
    return out[:n]


def fuzz(
    path: Path, data: bytes, load: Callable[[Path], object], seed: int = SEED, text: bool = False
) -> Counter:
    """Write each mutant of `data` to `path` and load it; fail listing every mutant that crashed."""
    path.write_bytes(data)
    load(path)  # the unmutated input is valid
    outcome: Counter = Counter()
    crashes = []
    for name, blob in mutants(data, N_MUTANTS, seed, text):
        path.write_bytes(blob)
        try:
            load(path)
            outcome["loaded"] += 1
        except RnnlabError as e:
            msg = str(e)
            if "\n" in msg or not msg.strip():
                crashes.append(f"{name}: {type(e).__name__} not one line: {msg!r}")
            outcome["refused"] += 1
        except Exception as e:  # every other exception is what this test exists to find
            crashes.append(f"{name}: {type(e).__name__}: {str(e)[:160]!r} (input {blob[:60]!r}...)")
    path.write_bytes(data)  # leave the valid input behind
    assert not crashes, f"{len(crashes)} of {N_MUTANTS} mutants of {path.name} crashed:\n" + "\n".join(
        crashes[:12]
    )
    assert outcome["refused"] > 0, outcome  # the mutants did reach the error paths
    return outcome


# --- user sequence data -------------------------------------------------------------------------------------


def _npz_bytes(compressed: bool, ragged: bool) -> bytes:
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    save = np.savez_compressed if compressed else np.savez
    if ragged:
        seqs = [rng.normal(size=(t, 2)) for t in (3, 5, 2, 4)]
        save(buf, *seqs, y=np.array(["run", "walk", "run", "sit"]))
    else:
        save(
            buf,
            X=rng.normal(size=(4, 5, 2)).astype(np.float32),
            lengths=np.array([5, 3, 1, 4]),
            y=np.array([0, 1, 1, 0]),
            ids=np.array(["a", "b", "c", "d"]),
            features=np.array(["acc", "gyro"]),
        )
    return buf.getvalue()


@pytest.mark.parametrize(
    "compressed,ragged",
    [(False, False), (True, False), (False, True)],
    ids=["padded", "compressed", "ragged"],
)
def test_fuzz_npz(tmp_path: Path, compressed: bool, ragged: bool) -> None:
    fuzz(tmp_path / "seqs.npz", _npz_bytes(compressed, ragged), read_npz)


def test_fuzz_long_csv(tmp_path: Path) -> None:
    rows = ["id,t,label,acc,gyro"] + [
        f"s{i},{t},{'run' if i % 2 else 'walk'},{0.1 * t + i:.3f},{-0.5 * t:.2f}"
        for i in range(4)
        for t in range(5)
    ]
    fuzz(
        tmp_path / "long.csv",
        ("\n".join(rows) + "\n").encode(),
        lambda p: read_long_csv(p, "id", "t", "label"),
    )


# --- series, text classification, character text ----------------------------------------------------------


def _series_bytes(n: int = 30) -> bytes:
    t = pd.date_range("2024-01-01", periods=n, freq="h")
    df = pd.DataFrame({"time": t, "load": np.round(np.sin(np.arange(n)), 3), "temp": 10 + np.arange(n) % 7})
    return df.assign(holiday=np.arange(n) // 24).to_csv(index=False).encode()


@pytest.mark.parametrize("with_time", [True, False], ids=["time", "no-time"])
def test_fuzz_series_csv(tmp_path: Path, with_time: bool) -> None:
    kw = {"time": "time"} if with_time else {"freq": "h"}

    def load(p: Path) -> object:
        return read_series_csv(p, "load", covariates=["temp"], future=["holiday"], **kw)

    if not with_time:  # the time column would be read as a covariate: drop it from the file
        data = pd.read_csv(io.BytesIO(_series_bytes())).drop(columns="time").to_csv(index=False).encode()
    else:
        data = _series_bytes()
    fuzz(tmp_path / "series.csv", data, load, text=True)


def test_fuzz_text_classification_csv(tmp_path: Path) -> None:
    words = ["good", "bad", "café", "naïve", "film", "plot", "\u00e9t\u00e9", "meh", ":)", "#wow"]
    rng = random.Random(0)
    lines = ["text,label"]
    for k in range(24):
        text = " ".join(rng.choice(words) for _ in range(rng.randint(2, 6)))
        lines.append(f'"{text}, really",{"pos" if k % 2 else "neg"}' if k % 5 == 0 else f"{text},{k % 2}")
    data = ("\ufeff" + "\n".join(lines) + "\n").encode()

    def load(p: Path) -> object:
        kw = {"path": str(p), "label_col": "label", "min_freq": 1, "batch_size": 8}
        return make_text_class_datamodule("textcsv", seed=0, **kw)

    fuzz(tmp_path / "docs.csv", data, load, text=True)


def test_fuzz_char_text(tmp_path: Path) -> None:
    verse = (
        "ROMEO:\nBut soft, what light through yonder window breaks?\nJULIET:\nAy me! Ça, naïve \u2014 ô.\r\n"
    )
    data = (verse * 20).encode()
    fuzz(tmp_path / "play.txt", data, lambda p: make_corpus(read_text(p), p.stem), text=True)


# --- images -------------------------------------------------------------------------------------------------


def _png_bytes(tmp_path: Path, mode: str) -> bytes:
    img = np.zeros((28, 40))
    img[4:24, 6:12] = 1.0
    img[10:20, 20:34] = np.linspace(0, 1, 14)
    p = tmp_path / "strip.png"
    if mode == "L":
        save_png(img, p)
    else:  # an RGBA screenshot-like image, dark digits on a light transparent-edged background
        from PIL import Image

        rgba = np.dstack(
            [np.rint((1 - img) * 255).astype(np.uint8)] * 3 + [np.full(img.shape, 200, np.uint8)]
        )
        Image.fromarray(rgba, "RGBA").save(p, format="PNG")
    return p.read_bytes()


@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_fuzz_png(tmp_path: Path, mode: str) -> None:
    data = _png_bytes(tmp_path, mode)
    fuzz(tmp_path / "digits.png", data, read_image)
    # a PNG whose image data is a valid zlib stream of the wrong size, and one with a bad zlib stream
    head, idat = data[:33], zlib.compress(b"\x00" * 10)
    chunk = len(idat).to_bytes(4, "big") + b"IDAT" + idat + zlib.crc32(b"IDAT" + idat).to_bytes(4, "big")
    iend = (0).to_bytes(4, "big") + b"IEND" + zlib.crc32(b"IEND").to_bytes(4, "big")
    for body in (chunk + iend, chunk.replace(idat, b"\x78\x9c\xff\xff" + idat[4:]) + iend):
        p = tmp_path / "made.png"
        p.write_bytes(head + body)
        with pytest.raises(RnnlabError, match="cannot read image") as e:
            read_image(p)
        assert "\n" not in str(e.value)


# --- recipes and run directories ----------------------------------------------------------------------------


def test_fuzz_recipe_yaml(tmp_path: Path) -> None:
    small = "# a small recipe\nname: fz\ntask: classify\ndata:\n  name: har\n  batch_size: 32\nmodel:\n  cell: gru\n  hidden: 16\n  layers: 1\ntrain:\n  max_epochs: 3\n  lr: 0.003\n  baselines: [logreg]\n"
    fuzz(tmp_path / "small.yaml", small.encode(), lambda p: load_recipe(str(p)), text=True)
    full = yaml.safe_dump(Recipe(name="fz").to_dict(), sort_keys=False)
    fuzz(tmp_path / "full.yaml", full.encode(), lambda p: load_recipe(str(p)), seed=SEED + 1, text=True)


@pytest.mark.parametrize(
    "data",
    [
        b"name: 2024-13-01\n",  # an implicit date that does not exist: PyYAML raises a plain ValueError
        b"train:\n  seed: !!int 0x\n",
        b"train:\n  lr: !!float abc\n",
        b"data: " + b"[" * 3000 + b"]" * 3000 + b"\n",  # nesting that exhausts the recursion limit
        b'data:\n  "na\\nme": 1\n',  # a key with a newline in it
        "name: fz\n".encode("utf-16"),
    ],
    ids=["bad-date", "bad-int", "bad-float", "deep", "newline-key", "utf16"],
)
def test_recipe_yaml_that_breaks_pyyaml_is_a_one_line_config_error(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(data)
    with pytest.raises(RnnlabError) as e:
        load_recipe(str(path))
    msg = str(e.value)
    assert "\n" not in msg and ("bad.yaml" in msg or "unknown recipe key 'data.na\\nme'" in msg), msg


@pytest.fixture
def tiny_run(tmp_path: Path) -> Path:
    """A complete run directory (config, data description, model config and weights) without training."""
    run = tmp_path / "run"
    run.mkdir()
    model = SequenceClassifier(3, 2, cell="gru", hidden=4, layers=1)
    save_model(run, model)
    write_yaml(run / "config.yaml", Recipe(name="tiny").to_dict())
    write_json(run / "data.json", {"name": "tiny", "classes": ["a", "b"], "features": ["x", "y", "z"]})
    return run


@pytest.mark.parametrize("name", ["model.json", "data.json", "config.yaml"])
def test_fuzz_run_directory_files(tiny_run: Path, name: str) -> None:
    path = tiny_run / name
    fuzz(path, path.read_bytes(), lambda p: open_run(p.parent), seed=SEED + len(name))
