"""The classification schedule under a time cap: torch's OneCycleLR/cosine over the steps, unchanged while the
steps lead, running ahead to the share of train.max_time used when the clock leads, so a capped run ends
annealed (it stopped at 8-12% of the peak learning rate before)."""

from __future__ import annotations

import pytest
import torch

from rnnlab.config import TrainConfig
from rnnlab.train import optim
from rnnlab.train.optim import make_optimizer


def _lrs(out: dict, steps: int, tick=None) -> list[float]:
    """The learning rate in force at each of `steps` optimiser steps, calling `tick(i)` before each."""
    opt, sched = out["optimizer"], out["lr_scheduler"]["scheduler"]
    seen = []
    for i in range(steps):
        if tick is not None:
            tick(i)
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return seen


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Linear(3, 2)


@pytest.mark.parametrize("schedule", ["onecycle", "cosine"])
def test_a_cap_that_does_not_bite_leaves_torchs_schedule_exactly(schedule, monkeypatch):
    now = [0.0]
    monkeypatch.setattr(optim.time, "perf_counter", lambda: now[0])
    cfg = TrainConfig(lr=3e-3, schedule=schedule)
    plain = _lrs(make_optimizer(_model(), cfg, total=100), 100)
    capped = _lrs(
        make_optimizer(_model(), cfg, total=100, cap_s=1000.0), 100, tick=lambda i: now.__setitem__(0, i)
    )
    assert capped == plain  # 1 s a step: the clock (1/1000 a step) never leads the steps (1/100 a step)
    if schedule == "onecycle":
        reference = torch.optim.lr_scheduler.OneCycleLR(
            make_optimizer(_model(), TrainConfig(lr=3e-3, schedule="constant"), total=100),
            max_lr=3e-3,
            total_steps=100,
            pct_start=0.2,
        )
        expected = []
        for _ in range(100):
            expected.append(reference.optimizer.param_groups[0]["lr"])
            reference.optimizer.step()
            reference.step()
        assert plain == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("schedule", ["onecycle", "cosine"])
def test_a_biting_cap_anneals_by_the_clock(schedule, monkeypatch):
    """Every step takes 1% of the cap while the steps count 0.5%: the run the cap stops at step 100 of 200
    ends annealed, and its schedule is torch's compressed into those 100 steps."""
    now = [0.0]
    monkeypatch.setattr(optim.time, "perf_counter", lambda: now[0])
    cfg = TrainConfig(lr=3e-3, schedule=schedule)
    out = make_optimizer(_model(), cfg, total=200, cap_s=100.0)
    lrs = _lrs(out, 101, tick=lambda i: now.__setitem__(0, float(i + 1)))  # the scheduler steps at i + 1 s
    assert (
        lrs[-1] < 3e-3 * 1e-3
    )  # at the cap: the end of the schedule (onecycle ends at lr / 25e4, cosine at 0)
    peak = max(lrs)
    assert peak == pytest.approx(3e-3, rel=1e-3)  # OneCycleLR's peak is at step 39 of 200, between two
    # halfway through the cap is halfway through the schedule, not a quarter of the way
    half = _lrs(make_optimizer(_model(), cfg, total=200), 101)
    assert lrs[50] == pytest.approx(half[100], rel=1e-9)
    # and the schedule's shape is kept: the peak sits at 20% of the cap for onecycle
    if schedule == "onecycle":
        assert lrs.index(peak) in (19, 20)
        betas = out["optimizer"].param_groups[0]["betas"][0]
        assert betas == pytest.approx(0.95, rel=1e-4)  # beta1 cycles back up as the lr anneals


def test_classification_passes_max_time_as_a_cap_and_the_char_lm_as_a_budget(har_small):
    from rnnlab.tasks.classify.module import ClassificationModule
    from rnnlab.train.module import TaskModule

    model = torch.nn.Linear(3, 2)
    cfg = TrainConfig(lr=1e-3, schedule="onecycle", max_time=5, max_epochs=3)
    capped = ClassificationModule(model, 2, cfg, steps_per_epoch=10).configure_optimizers()
    sched = capped["lr_scheduler"]["scheduler"]
    assert isinstance(sched, optim._ClockedOneCycle) and sched.clock.budget_s == 300.0
    budget = TaskModule(model, cfg, steps_per_epoch=10).configure_optimizers()["lr_scheduler"]["scheduler"]
    assert isinstance(budget, torch.optim.lr_scheduler.LambdaLR)
    uncapped = ClassificationModule(model, 2, TrainConfig(lr=1e-3, max_epochs=3), 10).configure_optimizers()
    assert uncapped["lr_scheduler"]["scheduler"].clock is None


@pytest.mark.parametrize(
    "schedule, limit",
    [("onecycle", "cap_s"), ("cosine", "cap_s"), ("onecycle", "budget_s"), ("cosine", "budget_s")],
)
def test_a_clocked_schedule_checkpoints_as_plain_values_and_resumes_its_clock(
    schedule, limit, monkeypatch, tmp_path
):
    """Classification's cap and the char LM's budget alike: a resumed run goes on from the time it had used
    (Lightning's Timer does the same), not from a fresh budget."""
    now = [0.0]
    monkeypatch.setattr(optim.time, "perf_counter", lambda: now[0])
    cfg = TrainConfig(lr=3e-3, schedule=schedule)
    first = make_optimizer(_model(), cfg, total=200, **{limit: 100.0})
    _lrs(first, 31, tick=lambda i: now.__setitem__(0, float(i + 1)))  # 31 s of 100 used, 31 steps of 200
    torch.save(first["lr_scheduler"]["scheduler"].state_dict(), tmp_path / "sched.pt")
    state = torch.load(tmp_path / "sched.pt", weights_only=True)  # what safe checkpoint loading accepts
    assert state["clock_used_s"] == 31.0 and "clock" not in state
    now[0] = 5000.0  # a later process
    again = make_optimizer(_model(), cfg, total=200, **{limit: 100.0})
    sched = again["lr_scheduler"]["scheduler"]
    sched.load_state_dict(state)
    assert sched.clock.step(31) == pytest.approx(62.0)  # 31% of the time used, not 0%
    now[0] += 1.0  # one more step in each: the resumed schedule and the uninterrupted one agree
    again["optimizer"].step()
    sched.step()
    first["optimizer"].step()
    now[0] = 32.0
    first["lr_scheduler"]["scheduler"].step()
    assert again["optimizer"].param_groups[0]["lr"] == pytest.approx(first["optimizer"].param_groups[0]["lr"])


def test_data_parallel_replicas_read_rank_zeros_clock(monkeypatch):
    """`sync` replaces this process's share of the cap with rank 0's (a broadcast in TaskModule), so every
    replica applies the same learning rate; it is not called at step 0, before the first optimiser step."""
    now = [0.0]
    monkeypatch.setattr(optim.time, "perf_counter", lambda: now[0])
    seen = []

    def rank_zero(share: float) -> float:
        seen.append(share)
        return 0.5  # rank 0 is half-way through the cap, whatever this process's clock says

    clock = optim._Progress(total=100, budget_s=60.0, sync=rank_zero)
    assert clock.step(0) == 0.0 and seen == []
    now[0] = 6.0
    assert clock.step(3) == pytest.approx(50.0) and seen == [pytest.approx(0.1)]
    assert clock.step(80) == 80  # the steps still lead when they are ahead


@pytest.mark.parametrize(
    "schedule,clock",
    [("onecycle", "budget_s"), ("cosine", "budget_s"), ("onecycle", "cap_s"), ("cosine", "cap_s")],
)
def test_the_clock_is_read_once_a_step_for_every_parameter_group(monkeypatch, schedule, clock):
    """LambdaLR asks its factor once per parameter group (AdamW's decay and no-decay groups: two); the clock is
    read once per step, so a data-parallel run broadcasts once a step and both groups follow one instant."""
    now = [0.0]
    monkeypatch.setattr(optim.time, "perf_counter", lambda: now[0])
    calls = []

    def rank_zero(share: float) -> float:
        calls.append(share)
        return share

    out = make_optimizer(
        _model(), TrainConfig(lr=1e-3, schedule=schedule), 100, sync=rank_zero, **{clock: 60.0}
    )
    opt, sched = out["optimizer"], out["lr_scheduler"]["scheduler"]
    assert len(opt.param_groups) == 2
    for i in range(1, 4):
        now[0] = 10.0 * i
        opt.step()
        sched.step()
        assert len(calls) == i
        assert opt.param_groups[0]["lr"] == opt.param_groups[1]["lr"]


def test_a_module_outside_data_parallel_does_not_sync():
    from rnnlab.tasks.classify.module import ClassificationModule

    cfg = TrainConfig(lr=1e-3, max_time=5, max_epochs=3)
    out = ClassificationModule(torch.nn.Linear(3, 2), 2, cfg, steps_per_epoch=10).configure_optimizers()
    assert out["lr_scheduler"]["scheduler"].clock.sync is None
