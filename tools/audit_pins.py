"""Known vulnerabilities in the installed packages, from PyPI's own advisory data.

pip-audit (`make audit`) asks PyPI's per-version JSON API, which the machines we build on cannot
reach; the per-project JSON they can reach lists the advisories of the *latest* release only. So
this check can vouch for a package only when the installed version is the latest one:

- installed == latest and PyPI lists advisories for it → FAIL (exit 1);
- installed == latest, no advisories → ok;
- installed < latest → "not audited" (printed; pinning the latest makes it auditable);
- PyPI unreachable → "not audited", never a failure of the build.

Usage: .venv/bin/python tools/audit_pins.py [--index https://pypi.org/pypi]
"""

import argparse
import importlib.metadata
import json
import sys
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

SKIP = {"pip", "setuptools", "wheel"}


def project_json(index: str, name: str) -> dict | None:
    try:
        with urllib.request.urlopen(f"{index}/{name}/json", timeout=15) as response:  # noqa: S310
            return json.load(response)
    except (urllib.error.URLError, TimeoutError, ValueError):
        return None


def audit(index: str) -> int:
    installed = {
        dist.metadata["Name"].lower(): dist.version
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"] and dist.metadata["Name"].lower() not in SKIP
    }
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = dict(zip(installed, pool.map(lambda n: project_json(index, n), installed), strict=True))
    vulnerable, audited, unaudited = [], 0, []
    for name, version in sorted(installed.items()):
        data = answers[name]
        if data is None:
            unaudited.append(f"{name}=={version} (PyPI did not answer)")
            continue
        latest = data["info"]["version"]
        if version != latest:
            unaudited.append(f"{name}=={version} (latest is {latest})")
            continue
        audited += 1
        for advisory in data.get("vulnerabilities") or []:
            vulnerable.append(
                f"{name}=={version}: {advisory.get('id')} {advisory.get('summary') or ''}".strip()
            )
    print(f"audited {audited} of {len(installed)} installed packages against PyPI's advisories")
    for line in unaudited:
        print(f"  not audited: {line}")
    for line in vulnerable:
        print(f"  VULNERABLE: {line}")
    return 1 if vulnerable else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default="https://pypi.org/pypi", help="PyPI JSON API base.")
    sys.exit(audit(parser.parse_args().index.rstrip("/")))


if __name__ == "__main__":
    main()
