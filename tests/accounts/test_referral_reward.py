"""Referral reward: the referrer is credited once, when the friend's first bouquet is delivered, if the
referrer has paid and the friend is not the referrer themselves (issue 26, item 7)."""

from decimal import Decimal

import pytest
from django.core import mail

from accounts import delivery_actions, emails, referrals, services
from accounts.models import LedgerEntry, Profile
from tests.accounts.helpers import on_its_day

pytestmark = pytest.mark.django_db


@pytest.fixture
def referrer(profile_factory):
    return profile_factory(account_sum=Decimal("1000.00"))


@pytest.fixture
def friend(profile_factory, referrer):
    # Another person: another mailbox and another address (the factory's default is the referrer's).
    return profile_factory(
        referred_by=referrer, account_sum=Decimal("10000.00"), delivery_address="Москва, Тверская, 7, кв. 3"
    )


def reward_mail() -> list:
    """The reward emails sent (a delivered bouquet also sends its own notice: accounts.notices)."""
    return [m for m in mail.outbox if "награда" in m.subject]


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
    [email] = reward_mail()
    assert email.to == [referrer.user.email]
    assert email.subject == "Flower Account: награда за приглашённого друга"
    assert "зачислили на ваш счёт 500,00 ₽" in email.body.replace("\xa0", " ")
    assert "https://flowers.example.ru/account/" in email.body


def test_the_email_is_sent_only_after_commit(referrer, friend, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        deliver(friend)
        assert reward_mail() == []

    assert len(callbacks) >= 1
    for callback in callbacks:
        callback()
    assert len(reward_mail()) == 1


def test_clicking_mark_delivered_twice_rewards_once(referrer, friend, django_capture_on_commit_callbacks):
    delivery = friend.deliveries.filter(status="scheduled").first()

    with django_capture_on_commit_callbacks(execute=True):
        assert delivery_actions.delivery_complete(delivery_id=delivery.pk, now=on_its_day(delivery)) is True
        assert delivery_actions.delivery_complete(delivery_id=delivery.pk, now=on_its_day(delivery)) is False
        assert services.referral_reward_grant(delivery=delivery) is None  # a retry of the reward itself

    assert LedgerEntry.objects.filter(profile=referrer, reason="referral").count() == 1
    assert len(reward_mail()) == 1


def test_a_customer_who_came_alone_rewards_nobody(profile_factory, django_capture_on_commit_callbacks):
    alone = profile_factory()

    with django_capture_on_commit_callbacks(execute=True):
        deliver(alone)

    assert not LedgerEntry.objects.filter(reason="referral").exists()
    assert reward_mail() == []


def test_the_account_page_counts_friends_and_rewards(client, referrer, friend, profile_factory):
    profile_factory(referred_by=referrer)  # signed up, no bouquet yet
    deliver(friend)
    client.force_login(referrer.user)

    text = client.get("/account/").content.decode()

    assert "По вашей ссылке зарегистрировались 2 человека." in text
    assert "1 награда получена за первый букет друга." in text


def _withheld(friend) -> str:
    friend.refresh_from_db()
    return friend.referral_reward_withheld


def test_a_referrer_who_never_paid_gets_no_reward_and_staff_see_why(profile_factory):
    unpaid = profile_factory(paid=False)
    friend = profile_factory(referred_by=unpaid, delivery_address="Москва, Тверская, 7, кв. 3")

    deliver(friend)

    unpaid.refresh_from_db()
    assert not LedgerEntry.objects.filter(reason="referral").exists() and reward_mail() == []
    assert _withheld(friend) == Profile.ReferralWithheld.REFERRER_NEVER_PAID


def test_a_plus_address_of_the_referrer_gets_no_reward(profile_factory, user_factory):
    referrer = profile_factory(user=user_factory(email="ivan.petrov@gmail.com"))
    second = profile_factory(
        user=user_factory(email="ivanpetrov+2@googlemail.com"),
        referred_by=referrer,
        delivery_address="Москва, Тверская, 7, кв. 3",
    )

    deliver(second)

    assert not LedgerEntry.objects.filter(reason="referral").exists()
    assert _withheld(second) == Profile.ReferralWithheld.SAME_MAILBOX


def test_the_referrers_own_delivery_address_spelled_differently_gets_no_reward(profile_factory):
    referrer = profile_factory(delivery_address="Москва, ул. Лёнина, д. 25, кв. 10")
    second = profile_factory(referred_by=referrer, delivery_address="москва ленина 25 квартира 10")

    deliver(second)

    assert not LedgerEntry.objects.filter(reason="referral").exists()
    assert _withheld(second) == Profile.ReferralWithheld.SAME_ADDRESS


@pytest.mark.parametrize("blank", ["", "   ", " , . "])
def test_two_customers_without_an_address_are_not_one_person(referrer, profile_factory, blank):
    Profile.objects.filter(pk=referrer.pk).update(delivery_address=blank)
    referrer.refresh_from_db()
    second = profile_factory(referred_by=referrer)
    Profile.objects.filter(pk=second.pk).update(delivery_address=blank)
    second.refresh_from_db()

    assert referrals.reward_refusal(referrer=referrer, friend=second) is None


def test_the_referrers_phone_gets_no_reward(profile_factory):
    referrer = profile_factory(phone="+79001234567")
    second = profile_factory(
        referred_by=referrer, phone="+79001234567", delivery_address="Тверская, 7, кв. 3"
    )

    deliver(second)

    assert _withheld(second) == Profile.ReferralWithheld.SAME_PHONE


def test_a_paying_referrer_and_another_person_get_the_reward_and_nothing_withheld(referrer, friend):
    deliver(friend)

    assert LedgerEntry.objects.filter(profile=referrer, reason="referral").count() == 1
    assert _withheld(friend) == ""


def test_staff_see_the_withheld_reward_on_the_friends_profile_in_russian(admin_client, profile_factory):
    unpaid = profile_factory(paid=False)
    friend = profile_factory(referred_by=unpaid, delivery_address="Москва, Тверская, 7, кв. 3")
    deliver(friend)

    page = admin_client.get(f"/admin/accounts/profile/{friend.pk}/change/").content.decode()

    assert "Награда за приглашение не начислена" in page and "пригласивший не оплатил ни одного счёта" in page


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("Ivan.Petrov+promo@gmail.com", "ivanpetrov@googlemail.com"),  # Gmail: dots, plus, both domains
        ("ivan.petrov+x@yandex.ru", "ivan-petrov@ya.ru"),  # Yandex: plus, "." as "-", its domains
        ("ivan@yandex.com", "IVAN+shop@yandex.ru"),
    ],
)
def test_spellings_the_provider_delivers_to_one_mailbox_are_one_mailbox(one, other):
    assert emails.mailbox(one) == emails.mailbox(other)


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("ivan.petrov@mail.ru", "ivanpetrov@mail.ru"),  # mail.ru: compared as written
        ("ivan+1@mail.ru", "ivan@mail.ru"),
        ("ivan.petrov@example.ru", "ivanpetrov@example.ru"),  # a company's own server decides
        ("ivan+1@example.ru", "ivan@example.ru"),
        ("ivan.petrov@gmail.com", "ivan.petrov@yandex.ru"),
    ],
)
def test_other_providers_addresses_are_compared_as_written(one, other):
    assert emails.mailbox(one) != emails.mailbox(other)


def test_addresses_differing_in_house_or_flat_are_different(profile_factory):
    assert referrals.address_key("Москва, ул. Ленина, 25, кв. 10") != referrals.address_key(
        "Москва, ул. Ленина, 25, кв. 11"
    )
    assert referrals.address_key("Москва, ул. Ленина, 25") != referrals.address_key(
        "Москва, ул. Ленина, 2, 5"
    )
