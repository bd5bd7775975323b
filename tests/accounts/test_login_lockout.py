"""Nobody can lock anybody out (issue 26, item 6; docs/security.md): failed sign-ins lock a (client
IP, address) pair, a slower ceiling per address holds against many IPs, and the code by email is the
owner's way in whatever the password locks say. Limits are read from ACCOUNT_RATE_LIMITS."""

import re
from http import HTTPStatus

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.urls import reverse

from tests.accounts.helpers import page_text

# The code email is written by the worker: tasks run at once here (accounts.login_code_mail).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("tasks_immediate")]

TOO_MANY_FAILED = "Слишком много неудачных попыток входа в систему. Повторите попытку позже."
OWNER_IP, ATTACKER_IP = "198.51.100.7", "203.0.113.66"


def _per_key(action: str) -> int:
    """The `N` of the `N/period/key` part of one allauth limit."""
    rates = settings.ACCOUNT_RATE_LIMITS[action].split(",")
    return next(int(rate.split("/")[0]) for rate in rates if rate.endswith("/key"))


def _log_in(client: Client, email: str, password: str):
    return client.post(reverse("account_login"), {"login": email, "password": password})


def _fail(email: str, *, ip: str, times: int) -> None:
    attacker = Client(REMOTE_ADDR=ip)
    for _ in range(times):
        _log_in(attacker, email, "wrong-password")


def _sign_in_by_code(client: Client, email: str):
    client.post(reverse("account_request_login_code"), {"email": email})
    [message] = [m for m in mail.outbox if m.to == [email] and "код для входа" in m.subject][-1:]
    code = re.search(r"^\s*([A-Z0-9-]{4,})\s*$", message.body, re.M).group(1)
    return client.post(reverse("account_confirm_login_code"), {"code": code})


def _is_signed_in_as(client: Client, user) -> bool:
    return client.session.get("_auth_user_id") == str(user.pk)


def test_fifty_failures_from_another_ip_do_not_stop_the_owner_signing_in_with_the_password(
    customer, password
):
    email = customer.user.email
    _fail(email, ip=ATTACKER_IP, times=50)
    owner = Client(REMOTE_ADDR=OWNER_IP)

    response = _log_in(owner, email, password)

    assert response.status_code == HTTPStatus.FOUND and response.url == "/account/"
    assert _is_signed_in_as(owner, customer.user)


def test_fifty_failures_from_another_ip_do_not_stop_the_owner_signing_in_by_code(customer):
    email = customer.user.email
    _fail(email, ip=ATTACKER_IP, times=50)
    owner = Client(REMOTE_ADDR=OWNER_IP)

    response = _sign_in_by_code(owner, email)

    assert response.status_code == HTTPStatus.FOUND and response.url == "/account/"
    assert _is_signed_in_as(owner, customer.user)


def test_one_ip_is_locked_out_of_an_address_after_the_allowed_failures(customer, password):
    email = customer.user.email
    _fail(email, ip=ATTACKER_IP, times=_per_key("login_failed"))
    attacker = Client(REMOTE_ADDR=ATTACKER_IP)

    response = _log_in(attacker, email, password)  # even the right password, from that IP

    assert response.status_code == HTTPStatus.OK and TOO_MANY_FAILED in page_text(response)
    assert "_auth_user_id" not in attacker.session


def test_the_ceiling_per_address_holds_against_many_ips(customer, password):
    email = customer.user.email
    ceiling, per_ip = _per_key("login_failed_address"), _per_key("login_failed")
    assert ceiling > per_ip  # slower than one IP's lock: one IP alone cannot reach it
    ips = [f"203.0.113.{n}" for n in range(1, -(-ceiling // per_ip) + 1)]
    for ip in ips:
        _fail(email, ip=ip, times=per_ip)
    fresh = Client(REMOTE_ADDR="192.0.2.200")

    response = _log_in(fresh, email, password)

    assert response.status_code == HTTPStatus.OK and TOO_MANY_FAILED in page_text(response)
    assert "_auth_user_id" not in fresh.session


def test_the_code_lets_the_owner_in_past_the_ceiling_per_address(customer):
    email = customer.user.email
    ceiling, per_ip = _per_key("login_failed_address"), _per_key("login_failed")
    for n in range(1, -(-ceiling // per_ip) + 1):
        _fail(email, ip=f"203.0.113.{n}", times=per_ip)
    owner = Client(REMOTE_ADDR=OWNER_IP)

    _sign_in_by_code(owner, email)

    assert _is_signed_in_as(owner, customer.user)


def test_a_locked_ip_hammering_on_does_not_use_up_the_ceiling(customer, password):
    email = customer.user.email
    ceiling, per_ip = _per_key("login_failed_address"), _per_key("login_failed")
    _fail(email, ip=ATTACKER_IP, times=ceiling * 2)  # refused once locked: those do not count
    for n in range(1, (ceiling - per_ip - 1) // per_ip + 1):  # with these, one below the ceiling
        _fail(email, ip=f"203.0.113.{n}", times=per_ip)

    response = _log_in(Client(REMOTE_ADDR=OWNER_IP), email, password)

    assert response.status_code == HTTPStatus.FOUND


def test_the_owner_locked_out_of_the_password_on_their_own_ip_still_signs_in_by_code(customer, password):
    email = customer.user.email
    _fail(email, ip=OWNER_IP, times=_per_key("login_failed"))  # the owner's own typos
    owner = Client(REMOTE_ADDR=OWNER_IP)
    assert TOO_MANY_FAILED in page_text(_log_in(owner, email, password))

    _sign_in_by_code(owner, email)

    assert _is_signed_in_as(owner, customer.user)


def test_a_strangers_code_requests_do_not_use_up_the_owners(customer):
    email = customer.user.email
    for _ in range(20):
        Client(REMOTE_ADDR=ATTACKER_IP).post(reverse("account_request_login_code"), {"email": email})
    assert len(mail.outbox) == _per_key("request_login_code")  # the stranger's IP is limited
    owner = Client(REMOTE_ADDR=OWNER_IP)

    _sign_in_by_code(owner, email)

    assert _is_signed_in_as(owner, customer.user)


def test_a_strangers_wrong_codes_lock_neither_the_password_nor_the_code(customer, password):
    email = customer.user.email
    for _ in range(_per_key("request_login_code")):
        stranger = Client(REMOTE_ADDR=ATTACKER_IP)
        stranger.post(reverse("account_request_login_code"), {"email": email})
        for attempt in range(settings.ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS):
            stranger.post(reverse("account_confirm_login_code"), {"code": f"WRONG-{attempt}"})
    mail.outbox.clear()

    by_code, by_password = Client(REMOTE_ADDR=OWNER_IP), Client(REMOTE_ADDR=OWNER_IP)
    _sign_in_by_code(by_code, email)
    _log_in(by_password, email, password)

    assert _is_signed_in_as(by_code, customer.user) and _is_signed_in_as(by_password, customer.user)


def test_staff_are_not_locked_out_by_failures_from_another_ip(user_factory, password):
    staff = user_factory(email="boss@example.ru", is_staff=True, is_superuser=True)
    _fail(staff.email, ip=ATTACKER_IP, times=50)
    admin_index = reverse("admin:index")
    boss = Client(REMOTE_ADDR=OWNER_IP)

    response = boss.post(
        f"{reverse('account_login')}?next={admin_index}", {"login": staff.email, "password": password}
    )

    assert response.status_code == HTTPStatus.FOUND and response.url == admin_index
    assert boss.get(admin_index).status_code == HTTPStatus.OK


def test_staff_past_the_ceiling_per_address_still_sign_in_by_code(user_factory):
    staff = user_factory(email="boss@example.ru", is_staff=True, is_superuser=True)
    ceiling, per_ip = _per_key("login_failed_address"), _per_key("login_failed")
    for n in range(1, -(-ceiling // per_ip) + 1):
        _fail(staff.email, ip=f"203.0.113.{n}", times=per_ip)
    boss = Client(REMOTE_ADDR=OWNER_IP)

    _sign_in_by_code(boss, staff.email)

    assert _is_signed_in_as(boss, staff)
    assert boss.get(reverse("admin:index")).status_code == HTTPStatus.OK
