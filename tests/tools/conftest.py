"""The amoCRM stand-in running on a free port, its control endpoints, and an API session."""

from http import HTTPStatus

import pytest
import requests

from tools.amocrm_standin import StandIn


@pytest.fixture
def standin():
    # A high limit keeps tests from tripping the 429 they do not test; the rate-limit test lowers it.
    server = StandIn(port=0, rate_limit=1000, webhook_timeout=2).start()
    yield server
    server.stop()


@pytest.fixture
def control(standin):
    def call(path: str, body: dict | None = None, method: str = "POST") -> dict:
        response = requests.request(method, f"{standin.base_url}/_standin/{path}", json=body or {}, timeout=5)
        assert response.status_code == HTTPStatus.OK, response.text
        return response.json()

    return call


@pytest.fixture
def api(standin, control):
    """A session holding a valid long-lived token; `api.url(path)` is the stand-in's address."""
    session = requests.Session()
    token = control("tokens/long-lived")["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    session.url = lambda path: f"{standin.base_url}{path}"
    return session
