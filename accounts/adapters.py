from allauth.account.adapter import DefaultAccountAdapter

from accounts import emails


class AccountAdapter(DefaultAccountAdapter):
    """allauth's adapter, with addresses normalised and look-alikes refused (accounts.emails)."""

    def clean_email(self, email: str) -> str:
        email = emails.normalize(email)
        emails.validate_one_script(email)
        return super().clean_email(email)
