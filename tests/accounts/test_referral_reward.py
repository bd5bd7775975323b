"""Referral reward: the referrer is credited once, when the friend's first bouquet is delivered."""

from decimal import Decimal

import pytest
from django.core import mail

from accounts import delivery_actions, services
from accounts.models import LedgerEntry
from tests.accounts.helpers import on_its_day

pytestmark = pytest.mark.django_db


@pytest.fixture
def referrer(profile_factory):
    return profile_factory(account_sum=Decimal("1000.00"))


@pytest.fixture
def friend(profile_factory, referrer):
    return profile_factory(referred_by=referrer, account_sum=Decimal("10000.00"))


def deliver(profile, n: int = 0) -> bool:
    delivery = profile.deliveries.filter(status="scheduled").order_by("delivery_on")[n]
    return delivery_actions.delivery_complete(delivery_id=delivery.pk, now=on_its_day(delivery))


def test_the_friends_first_delivery_credits_the_referrer_once_with_an_email(
    referrer, friend, settings, django_capture_on_commit_callbacks
):
    settings.REFERRAL_REWARD_AMOUNT = Decimal("500")
    settings.SITE_URL = "https://flowers.example.ru"

    with django_capture_on_commit_callbacks(execute=True):
        deliver(friend)
    with django_capture_on_commit_callbacks(execute=True):
        deliver(friend)  # the second bouquet earns nothing more

    referrer.refresh_from_db()
    assert referrer.account_sum == Decimal("1500.00")
    rewards = LedgerEntry.objects.filter(profile=referrer, reason="referral")
    assert [(e.amount, e.delivery.profile_id) for e in rewards] == [(Decimal("500.00"), friend.pk)]
    [email] = mail.outbox
    assert email.to == [referrer.user.email]
    assert email.subject == "Flower Account: награда за приглашённого друга"
    assert "зачислили на ваш счёт 500,00 ₽" in email.body.replace("\xa0", " ")
    assert "https://flowers.example.ru/account/" in email.body


def test_the_email_is_sent_only_after_commit(referrer, friend, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        deliver(friend)
        assert mail.outbox == []

    assert len(callbacks) >= 1
    for callback in callbacks:
        callback()
    assert len(mail.outbox) == 1


def test_clicking_mark_delivered_twice_rewards_once(referrer, friend, django_capture_on_commit_callbacks):
    delivery = friend.deliveries.filter(status="scheduled").first()

    with django_capture_on_commit_callbacks(execute=True):
        assert delivery_actions.delivery_complete(delivery_id=delivery.pk, now=on_its_day(delivery)) is True
        assert delivery_actions.delivery_complete(delivery_id=delivery.pk, now=on_its_day(delivery)) is False
        assert services.referral_reward_grant(delivery=delivery) is None  # a retry of the reward itself

    assert LedgerEntry.objects.filter(profile=referrer, reason="referral").count() == 1
    assert len(mail.outbox) == 1


def test_a_customer_who_came_alone_rewards_nobody(profile_factory, django_capture_on_commit_callbacks):
    alone = profile_factory()

    with django_capture_on_commit_callbacks(execute=True):
        deliver(alone)

    assert not LedgerEntry.objects.filter(reason="referral").exists()
    assert mail.outbox == []


def test_the_account_page_counts_friends_and_rewards(client, referrer, friend, profile_factory):
    profile_factory(referred_by=referrer)  # signed up, no bouquet yet
    deliver(friend)
    client.force_login(referrer.user)

    text = client.get("/account/").content.decode()

    assert "По вашей ссылке зарегистрировались 2 человека." in text
    assert "1 награда получена за первый букет друга." in text
