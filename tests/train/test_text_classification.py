"""Text classification: token ids through the classifier, packing vs masking, the text baselines, the CLI
on a user's CSV, and (slow) the real tweets recipe against its bag-of-words baseline."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from rnnlab.cli import main
from rnnlab.config import load_recipe
from rnnlab.models import SequenceClassifier
from rnnlab.tasks.classify.baselines import MarkovClassifier, bow_logreg, markov
from rnnlab.tasks.classify.data import make_datamodule

POS = ["great", "lovely", "superb", "fun", "happy"]
NEG = ["awful", "boring", "dull", "sad", "terrible"]
FILL = ["the", "film", "was", "a", "plot", "and", "it", "really", "quite", "story"]


def _csv(path, n: int = 300, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = "pos" if i % 2 else "neg"
        words = list(rng.choice(FILL, rng.integers(3, 12))) + list(rng.choice(POS if i % 2 else NEG, 2))
        rng.shuffle(words)
        rows.append({"review": " ".join(words), "label": label})
    pd.DataFrame(rows).to_csv(path, index=False)


def _recipe(path, **data):
    r = load_recipe("sentiment")
    r.data.name, r.data.path, r.data.text_col, r.data.label_col, r.data.min_freq = (
        "textcsv",
        str(path),
        "review",
        "label",
        1,
    )
    for k, v in data.items():
        setattr(r.data, k, v)
    return r


def test_text_csv_becomes_token_batches_with_a_train_only_vocabulary(tmp_path):
    _csv(tmp_path / "r.csv")
    dm = make_datamodule(_recipe(tmp_path / "r.csv"))
    assert dm.classes == ["neg", "pos"] and dm.sets["train"].x.shape[2] == 1
    assert set(dm.vocab.tokens) <= {"<pad>", "<unk>", *POS, *NEG, *FILL}
    batch = next(iter(dm.train_dataloader()))
    assert batch["x"].shape[1] == int(batch["lengths"].max())
    trunc = make_datamodule(_recipe(tmp_path / "r.csv", max_tokens=4))
    assert trunc.sets["train"].lengths.max() == 4 and trunc.describe()["max_tokens"] == 4


def test_pack_and_mask_agree_for_a_forward_only_mean_readout_but_not_bidirectional():
    torch.manual_seed(0)
    ids = torch.randint(2, 50, (4, 9))
    lengths = torch.tensor([9, 5, 3, 7])
    ids[torch.arange(9)[None, :] >= lengths[:, None]] = 0
    for bi, same in ((False, True), (True, False)):
        pack = SequenceClassifier(
            1, 3, hidden=8, layers=1, bidirectional=bi, readout="mean", vocab_size=50, embed=6
        )
        mask = SequenceClassifier(
            1, 3, hidden=8, layers=1, bidirectional=bi, readout="mean", vocab_size=50, embed=6, ragged="mask"
        )
        mask.load_state_dict(pack.state_dict())
        pack.eval(), mask.eval()
        a, b = pack(ids, lengths), mask(ids[..., None].float(), lengths)
        assert torch.allclose(a, b, atol=1e-5) == same


def test_text_baselines_learn_the_cue_words(tmp_path):
    _csv(tmp_path / "r.csv", n=400)
    dm = make_datamodule(_recipe(tmp_path / "r.csv"))
    assert bow_logreg(dm)["accuracy"] > 0.9
    assert markov(dm)["accuracy"] > 0.85


def test_markov_likelihood_is_a_normalised_bigram_model():
    ids = np.array([[2, 3, 2, 0], [3, 3, 0, 0]])
    lengths = np.array([3, 2])
    m = MarkovClassifier(4, 1.0).fit(ids, lengths, np.array([0, 1]), 2)
    # every next-token distribution sums to one under add-1 smoothing
    for c in range(2):
        total = sum(
            np.exp(m.log_likelihood(np.array([[t]]), np.array([1]))[0, c] - m.log_prior[c]) for t in range(4)
        )
        assert total == pytest.approx(1.0)


def test_cli_trains_on_a_text_csv_with_baselines(tmp_path, capsys):
    _csv(tmp_path / "r.csv")
    args = [
        "train",
        "sentiment",
        "--data",
        str(tmp_path / "r.csv"),
        "--data.name",
        "textcsv",
        "--data.text_col",
        "review",
    ]
    args += [
        "--data.min_freq",
        "1",
        "--epochs",
        "2",
        "--model.hidden",
        "8",
        "--model.embed",
        "8",
        "--out",
        str(tmp_path / "run"),
    ]
    assert main(args) == 0
    r = json.loads((tmp_path / "run" / "results.json").read_text())
    assert set(r["baselines"]) == {"bow_logreg", "markov"} and "macro_f1" in r["test"]
    d = json.loads((tmp_path / "run" / "data.json").read_text())
    assert d["vocab"]["level"] == "word"


def test_bad_text_csv_inputs_are_one_line_errors(tmp_path, capsys):
    one = tmp_path / "one.csv"
    pd.DataFrame({"text": ["good", "fine", "nice"], "label": ["pos"] * 3}).to_csv(one, index=False)
    empty = tmp_path / "empty.csv"
    empty.write_text("text,label\nhello,pos\n,neg\n")
    latin = tmp_path / "latin.csv"
    latin.write_bytes("text,label\ncaf\xe9 ok,pos\nbad,neg\n".encode("latin-1"))
    for f, word in ((one, "one class"), (empty, "empty"), (latin, "UTF-8")):
        args = [
            "train",
            "sentiment",
            "--data",
            str(f),
            "--data.name",
            "textcsv",
            "--out",
            str(tmp_path / "x"),
        ]
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err and word.lower() in err.lower(), err


@pytest.mark.slow
def test_sentiment_recipe_beats_bag_of_words_in_macro_f1(tmp_path):
    assert main(["train", "sentiment", "--out", str(tmp_path / "run")]) == 0
    r = json.loads((tmp_path / "run" / "results.json").read_text())
    assert (
        r["test"]["macro_f1"]
        > r["baselines"]["bow_logreg"]["macro_f1"]
        > r["baselines"]["markov"]["macro_f1"]
    )
