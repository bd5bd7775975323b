"""Refresh docs/screenshots/: the main pages at phone (390 px) and desktop (1280 px) width, the
amoCRM stand-in page, the admin index (connected, blocked, not connected), the deliveries sheet, the
customer card, and the lists staff work in with a failed sync's page (1280 px), taken by the browser
tests tests/e2e/test_screenshots.py and tests/e2e/test_admin_screenshots.py.

    .venv/bin/python tools/screenshots.py

With `pngquant` installed (apt-get install pngquant) the PNGs are shrunk to a 256-colour palette.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
FOLDER = BASE_DIR / "docs" / "screenshots"


def main() -> None:
    env = {
        **os.environ,
        "E2E_SCREENSHOTS_DIR": str(FOLDER),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or "test-only-insecure-key",
    }
    tests = ["tests/e2e/test_screenshots.py", "tests/e2e/test_admin_screenshots.py"]
    command = [sys.executable, "-m", "pytest", "-m", "e2e", "-q", *tests]
    result = subprocess.run(command, cwd=BASE_DIR, env=env, check=False)  # noqa: S603 - fixed command
    pngquant = shutil.which("pngquant")
    if result.returncode == 0 and pngquant:  # a 256-colour palette: about a third of the bytes
        shots = [str(p) for p in sorted(FOLDER.glob("*.png"))]
        subprocess.run([pngquant, "--force", "--skip-if-larger", "--ext", ".png", *shots], check=False)  # noqa: S603
    if result.returncode == 0:
        sizes = sum(p.stat().st_size for p in FOLDER.glob("*.png"))
        print(f"{len(list(FOLDER.glob('*.png')))} screenshots in {FOLDER} ({sizes // 1024} KB)")
    raise SystemExit(result.returncode)


if __name__ == "__main__":
    main()
