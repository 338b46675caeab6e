"""Progress for long stages: sparse lines with rate and ETA in a log, stage lines with results."""

import io

import pytest

from deepgrad.train.progress import Cadence, Progress, Stages, eta_text


def test_progress_in_a_log_is_first_last_and_evenly_spaced_lines_with_rate_and_eta():
    out = io.StringIO()
    with Progress(100, "lr-find", stream=out, lines=4) as p:
        for i in range(100):
            p.update(loss=1.0 / (i + 1))
    lines = out.getvalue().splitlines()
    counts = [int(line.split()[1].split("/")[0]) for line in lines]
    assert counts == [1, 25, 50, 75, 100], lines
    assert all(" steps/s - ETA " in line and " - loss " in line for line in lines)
    assert lines[-1].endswith("ETA 0s")


def test_progress_updated_by_many_steps_keeps_its_cadence():
    out = io.StringIO()
    p = Progress(600, "cartpole", unit="env step", stream=out, lines=4)
    for _ in range(6):
        p.update(100, validation_return=9.5)  # a stride is 150 steps: no update lands on one
    counts = [int(line.split()[1].split("/")[0]) for line in out.getvalue().splitlines()]
    assert counts == [100, 200, 300, 500, 600], counts
    assert " env steps/s - ETA " in out.getvalue()


def test_progress_disabled_prints_nothing():
    out = io.StringIO()
    p = Progress(10, "x", stream=out, enabled=False)
    for _ in range(10):
        p.update()
    assert out.getvalue() == ""


def test_cadence_writes_a_line_when_every_s_has_passed():
    c = Cadence(1000, lines=2, every_s=30.0)
    c.start(0)
    assert not c.due(3, now=c.last + 1.0)
    assert c.due(3, now=c.last + 31.0)


@pytest.mark.parametrize(("s", "text"), [(4.4, "ETA 4s"), (185, "ETA 3m05s"), (3720, "ETA 1h02m")])
def test_eta_text(s, text):
    assert eta_text(s) == text


def test_stages_announce_start_and_end_with_result_and_eta_of_the_rest():
    out = io.StringIO()
    stages = Stages(3, "init-compare", stream=out)
    for name in ("a", "b", "c"):
        with stages.stage(name) as s:
            s.result = f"val acc {name}"
    lines = out.getvalue().splitlines()
    assert lines[0] == "init-compare [1/3] a ..."
    assert lines[1].startswith("init-compare [1/3] a: val acc a (") and "ETA" in lines[1]
    assert lines[5].startswith("init-compare [3/3] c: val acc c (") and "ETA" not in lines[5]
    assert len(lines) == 6


def test_quiet_silences_progress_and_stages_made_inside_it():
    from deepgrad.train.progress import quiet

    out = io.StringIO()
    with quiet():
        p, s = Progress(3, "x", stream=out), Stages(1, "y", stream=out)
    p.update()
    with s.stage("a"):
        pass
    assert out.getvalue() == ""
    Progress(1, "z", stream=out).update()  # outside: on again
    assert out.getvalue().startswith("z: 1/1 steps")


def test_train_quiet_experiment_prints_no_arm_lines(tmp_path, capsys):
    from deepgrad.cli import main

    assert main(["train", "regularization-compare", "--quick", "-q", "--set", "epochs=2",
                 "--out", str(tmp_path)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "regularization-compare [" not in out and "summary: " in out


def test_progress_on_a_terminal_is_a_tqdm_bar_not_lines():
    pytest.importorskip("tqdm", reason="the terminal bar is tqdm's")

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out = Terminal()
    with Progress(3, "x", stream=out) as p:
        assert p._bar is not None
        p.update(loss=1.0)
    assert out.getvalue() == ""  # no log lines: the bar (on stderr) shows the progress
