"""`make run` as a new developer runs it: the site and the task worker come up together, a password
reset's email reaches the console readably (the worker sends it), and Ctrl-C stops both."""

import contextlib
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest
import requests

from tools.harness.processes import HOST, free_port, wait_until
from tools.harness.site import signup_data

ROOT = Path(__file__).resolve().parent.parent


def _default_interrupts() -> None:  # pragma: no cover - runs in the child, between fork and exec
    # A terminal's Ctrl-C reaches a foreground `make run`; a test runner may have inherited SIGINT
    # ignored (it was started in the background), which every child would inherit in turn.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _form_post(session: requests.Session, url: str, data: dict) -> requests.Response:
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', session.get(url, timeout=10).text)
    return session.post(
        url, {**data, "csrfmiddlewaretoken": token.group(1)}, headers={"Referer": url}, timeout=30
    )


@pytest.fixture
def make_run(tmp_path):
    port = free_port()
    log = tmp_path / "make-run.log"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    for name in ("DEBUG", "SECRET_KEY", "SITE_URL"):
        env.pop(name, None)  # what a fresh clone has: nothing exported
    # and no amoCRM, emails on the console, whatever a developer's .env says (the environment wins)
    env.update({"EMAIL_URL": "consolemail://", "AMOCRM_BASE_URL": "", "AMOCRM_LONG_LIVED_TOKEN": ""})
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - fixed arguments
            ["make", "--no-print-directory", "run", f"HOST={HOST}", f"PORT={port}"],  # noqa: S607 - make from PATH
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's foreground job
            preexec_fn=_default_interrupts,  # noqa: PLW1509
        )
    try:
        yield process, f"http://{HOST}:{port}", log
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever is left of the group, make or not
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def test_make_run_serves_the_site_with_the_worker_and_ctrl_c_stops_both(make_run):
    process, base, log = make_run
    wait_until(
        "the site to answer", lambda: _answers(f"{base}/healthz"), 120, interval=0.5, details=log.read_text
    )
    data = signup_data("make-run@example.ru")
    assert _form_post(requests.Session(), f"{base}/signup/", data).url == f"{base}/account/"

    sent = _form_post(requests.Session(), f"{base}/forgot-password/", {"email": data["email"]})

    assert sent.url == f"{base}/forgot-password/sent/"
    link = wait_until(
        "the worker to print the reset email",
        lambda: re.search(rf"{re.escape(base)}/reset-password/\S+/", log.read_text()),
        60,
        interval=0.5,
        details=log.read_text,
    )
    assert "Subject: Flower Account: смена пароля" in log.read_text(), log.read_text()
    assert requests.get(link.group(0), timeout=10).status_code < 400

    os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
    process.wait(timeout=30)
    # The worker and the reloaders stop a moment after the signal, make with them.
    wait_until("everything in make's process group to stop", lambda: _group_gone(process.pid), 30, 0.2)


def _group_gone(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False
