"""The suite reaches nothing outside this machine and hashes passwords fast (tests/conftest.py)."""

import socket

import pytest
import requests
import responses

from tests.conftest import NetworkBlocked

pytest_plugins = ["pytester"]

# A test run inside this one, with the suite's guard and nothing else of the suite.
GUARD_CONFTEST = "from tests.conftest import _network_guard, _network_guard_installed  # noqa: F401\n"


@pytest.fixture
def inner(pytester):
    pytester.makeconftest(GUARD_CONFTEST)
    return pytester


def test_a_test_that_calls_the_internet_fails_loudly(inner):
    inner.makepyfile(
        """
        import requests

        def test_reaches_out():
            requests.get("https://flowers.amocrm.ru/api/v4/account", timeout=1)
        """
    )

    result = inner.runpytest("-p", "no:cacheprovider", "-p", "no:django")

    # The refusal fails the call; the guard's teardown then lists every attempt the test made.
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(["*NetworkBlocked*to resolve 'flowers.amocrm.ru'*"])


def test_a_test_that_swallows_the_refusal_still_fails(inner):
    inner.makepyfile(
        """
        import socket

        def test_reaches_out_quietly():
            try:
                socket.create_connection(("203.0.113.7", 443), timeout=1)
            except Exception:
                pass
        """
    )

    result = inner.runpytest("-p", "no:cacheprovider", "-p", "no:django")

    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*a test tried to reach the internet*203.0.113.7*"])


@pytest.mark.parametrize("address", [("203.0.113.7", 443), ("2001:db8::1", 443)])
def test_a_connection_to_an_outside_address_is_refused_before_it_leaves(_network_guard, address):
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock, pytest.raises(NetworkBlocked):
        sock.connect(address)
    _network_guard.clear()  # seen; this test's own attempt must not fail it


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_this_machine_is_reachable(host):
    family = socket.AF_INET6 if host == "::1" else socket.AF_INET
    try:
        server = socket.create_server((host, 0), family=family)
    except OSError:
        pytest.skip(f"{host} is not configured on this machine")
    with server, socket.create_connection((host, server.getsockname()[1]), timeout=1):
        pass


def test_unix_sockets_pass():
    left, right = socket.socketpair(socket.AF_UNIX)
    with left, right:
        left.sendall(b"ok")
        assert right.recv(2) == b"ok"


@responses.activate
def test_a_responses_mocked_call_to_amocrm_never_touches_the_network():
    responses.get("https://flowers.amocrm.ru/api/v4/account", json={"id": 1})

    assert requests.get("https://flowers.amocrm.ru/api/v4/account", timeout=1).json() == {"id": 1}


def test_accounts_are_hashed_with_the_fast_hasher_by_default(user_factory):
    assert user_factory().password.startswith("md5$")


@pytest.mark.argon2
def test_the_argon2_marker_hashes_with_the_sites_own_hasher(user_factory):
    assert user_factory().password.startswith("argon2$argon2id$v=19$m=19456,t=2,p=1$")
