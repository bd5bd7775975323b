"""The webhook body parser: amoCRM's PHP-style form bodies → plain lists and dicts."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amocrm import webhooks
from amocrm.webhooks import ParseError, parse_body

FIXTURES = Path(__file__).parent / "fixtures"


def body_fixture(name: str) -> str:
    return (FIXTURES / name).read_text().strip()


def test_several_leads_and_event_kinds_in_one_body_become_lists():
    payload = parse_body(body_fixture("webhook_leads_body.txt"))

    assert [lead["id"] for lead in payload["leads"]["update"]] == ["30000001", "30000002"]
    assert payload["leads"]["status"][0]["status_id"] == "143"
    assert payload["leads"]["status"][0]["old_status_id"] == "60000003"
    assert payload["account"] == {
        "subdomain": "flowers",
        "id": "31000001",
        "_links": {"self": "https://flowers.amocrm.ru"},
    }


def test_custom_fields_keep_values_enums_empty_values_and_cyrillic():
    fields = parse_body(body_fixture("webhook_leads_body.txt"))["leads"]["update"][0]["custom_fields"]

    assert fields[0] == {"id": "600001", "name": "Сумма счёта", "values": [{"value": "2500.50"}]}
    assert fields[1]["values"] == [{"value": "Люкс", "enum": "900003"}]
    # "&", "=" and «» inside a value are percent-encoded and come back as typed.
    assert fields[2]["values"][0]["value"] == "Москва, ул. Арбат, 1 & кв. 5 = «да»"
    assert fields[3]["values"] == [{"value": ""}]


def test_percent_encoded_and_plain_brackets_parse_alike():
    encoded = "leads%5Bdelete%5D%5B0%5D%5Bid%5D=5&account%5Bsubdomain%5D=flowers"
    plain = "leads[delete][0][id]=5&account[subdomain]=flowers"

    assert (
        parse_body(encoded)
        == parse_body(plain.encode())
        == {
            "leads": {"delete": [{"id": "5"}]},
            "account": {"subdomain": "flowers"},
        }
    )


def test_php_rules_empty_brackets_append_and_a_later_key_wins():
    assert parse_body("a[]=1&a[]=2&b=x&b[c]=y&d[e]=1&d=2") == {"a": ["1", "2"], "b": {"c": "y"}, "d": "2"}


def test_keys_php_would_not_nest_are_kept_whole_or_dropped():
    assert parse_body("a[b=1&c]d=2&[x]=3&e=4") == {"a[b": "1", "c]d": "2", "e": "4"}


def test_sparse_or_non_numeric_indexes_stay_in_order():
    payload = parse_body("l[10][id]=b&l[2][id]=a")
    assert payload == {"l": [{"id": "a"}, {"id": "b"}]}
    assert parse_body("l[x][id]=1") == {"l": {"x": {"id": "1"}}}


@pytest.mark.parametrize(
    "body",
    [b"", b"&&&", b"leads[update][0][name]=%D0%9F%FF", b"\xff\xfe=1", "a" + "[b]" * 20 + "=1"],
    ids=["empty", "only separators", "bad utf-8 escape", "bad utf-8 bytes", "too deep"],
)
def test_bodies_amocrm_cannot_send_raise_parse_error(body):
    with pytest.raises(ParseError):
        parse_body(body)


def test_nul_characters_are_dropped():
    assert parse_body("a%00b=c%00d") == {"ab": "cd"}


def test_lead_items_and_their_ids_and_times():
    payload = parse_body(body_fixture("webhook_leads_body.txt") + "&leads[restore][0][id]=9&leads[delete]=x")

    items = [item for item in webhooks.items(payload) if item.entity == "lead"]

    assert [(i.action, i.lead_id) for i in items] == [
        ("update", 30000001),
        ("update", 30000002),
        ("status", 30000003),
        ("delete", None),
        ("restore", 9),
    ]
    assert items[0].modified_at.timestamp() == 1763870000
    assert items[3].data == {"value": "x"}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_any_body_parses_or_raises_parse_error_only(body):
    try:
        payload = parse_body(body)
    except ParseError:
        return
    assert isinstance(payload, dict)
    list(webhooks.items(payload))
    webhooks.account_of(payload)


def test_appends_continue_after_the_largest_index_as_php_does():
    assert parse_body("a[]=1&a[5]=2&a[]=3&a[b]=4") == {"a": {"0": "1", "5": "2", "6": "3", "b": "4"}}


def test_many_appends_keep_their_order():
    payload = parse_body("&".join(f"a%5B%5D={n}" for n in range(5000)))

    assert payload["a"] == [str(n) for n in range(5000)]


def test_appends_cost_a_constant_number_of_key_checks_each(monkeypatch):
    # 19,999 appends (175 KB, under both caps): a parser that rescans the node's keys on every
    # append makes ~200 million checks; the linear one checks the keys once.
    calls = 0
    real = webhooks._is_digits

    def counting(text: str) -> bool:
        nonlocal calls
        calls += 1
        return real(text)

    monkeypatch.setattr(webhooks, "_is_digits", counting)
    text = "a%5B5%5D=x&" + "&".join("a%5B%5D=" for _ in range(19_999))
    assert len(text) < webhooks.MAX_BYTES

    payload = parse_body(text)

    assert len(payload["a"]) == 20_000
    assert calls <= 2 * 20_000


def test_more_keys_than_the_cap_is_refused_before_decoding():
    text = "&".join("a=1" for _ in range(webhooks.MAX_KEYS + 1))

    with pytest.raises(webhooks.TooManyKeys):
        parse_body(text)
    assert parse_body("&".join("a%5B%5D=1" for _ in range(webhooks.MAX_KEYS)))["a"][-1] == "1"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("%+\\xab5BDE0123456789&=[]ц"), max_size=60))
def test_form_decoding_matches_urllib(text):
    from urllib.parse import parse_qsl

    try:
        expected = parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        with pytest.raises(UnicodeDecodeError):
            webhooks._form_pairs(text)
        return
    assert webhooks._form_pairs(text) == expected


def test_a_date_value_sent_bare_reads_like_a_wrapped_one():
    payload = parse_body(
        "leads[update][0][id]=30000001&leads[update][0][last_modified]=1763870000"
        "&leads[update][0][custom_fields][0][id]=600004&leads[update][0][custom_fields][0][values][0]=1763931600"
        "&leads[update][0][custom_fields][1][id]=600002"
        "&leads[update][0][custom_fields][1][values][0][value]=Люкс"
        "&leads[update][0][custom_fields][1][values][0][enum]=900003"
    )

    change = webhooks.read_lead(action="update", data=payload["leads"]["update"][0])

    assert [(f.field_id, f.values) for f in change.fields] == [
        (600004, (("1763931600", None),)),
        (600002, (("Люкс", "900003"),)),
    ]
