"""The periodic commands' shared loop (flower_account.commands): once from a timer, or every N
seconds as a Procfile process, going on after a failed round."""

import pytest
from django.core.management import CommandError, call_command
from django.db import OperationalError

from accounts.management.commands import deliveries_remind
from flower_account import commands


class Stop(Exception):
    pass


@pytest.fixture
def rounds(monkeypatch):
    """Replace one command's round with a recorder whose first round fails (the database is away);
    the third sleep stops the loop."""
    seen: list[dict] = []
    sleeps: list[int] = []

    def run_once(self, **kwargs) -> None:
        seen.append(kwargs)
        if len(seen) == 1:
            raise OperationalError("the database is away")

    def sleep(seconds: int) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 3:
            raise Stop

    monkeypatch.setattr(commands.time, "sleep", sleep)
    monkeypatch.setattr(deliveries_remind.Command, "run_once", run_once)
    return seen, sleeps


def test_a_command_run_from_a_timer_runs_one_round_and_reports_its_failure(rounds):
    seen, sleeps = rounds

    with pytest.raises(OperationalError):  # the timer's unit sees the run fail
        call_command("deliveries_remind", "--dry-run")

    assert seen == [{"dry_run": True, "keep_going": False}] and sleeps == []


def test_every_runs_again_after_the_given_seconds_and_keeps_going_after_a_failed_round(rounds, capsys):
    seen, sleeps = rounds

    with pytest.raises(Stop):
        call_command("deliveries_remind", "--every", "3600")

    assert seen == [{"dry_run": False, "keep_going": True}] * 3 and sleeps == [3600] * 3
    assert "This round failed (the database is away)" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["deliveries_remind", "amocrm_reconcile"])
def test_every_needs_a_positive_number_of_seconds(command):
    with pytest.raises(CommandError, match="1 or more"):
        call_command(command, "--every", "0")
