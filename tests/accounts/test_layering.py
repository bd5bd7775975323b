from pathlib import Path

from django.conf import settings

ACCOUNTS = Path(settings.BASE_DIR) / "accounts"


def test_accounts_app_has_python_files():
    assert len(list(ACCOUNTS.rglob("*.py"))) > 5


def test_accounts_never_imports_or_mentions_amocrm():
    assert [p for p in ACCOUNTS.rglob("*.py") if "amocrm" in p.read_text().lower()] == []


def test_customer_templates_never_mention_amocrm():
    templates = Path(settings.BASE_DIR) / "templates"
    customer_templates = [p for p in templates.rglob("*.html") if p.parent != templates / "amocrm"]

    assert [p for p in customer_templates if "amocrm" in p.read_text().lower()] == []
