""".env.example is what a new machine copies to .env: it must start the site as it stands."""

import os
import re
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SETTING_RE = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$")


def example_values() -> dict[str, str]:
    lines = (BASE_DIR / ".env.example").read_text(encoding="utf-8").splitlines()
    return dict(match.groups() for line in lines if (match := SETTING_RE.match(line)))


def test_env_example_copied_as_is_passes_django_checks(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in example_values()}
    env.update(example_values())
    env.update(SECRET_KEY="x" * 50, DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr[-2000:]


def test_env_example_lists_every_setting_read_from_the_environment():
    source = (BASE_DIR / "flower_account" / "settings.py").read_text(encoding="utf-8")
    read = set(re.findall(r"env(?:\.[a-z_]+)?\(\s*[\"']([A-Z][A-Z0-9_]+)[\"']", source))
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (BASE_DIR / ".env.example").read_text(), re.M))

    assert read - listed == set()
