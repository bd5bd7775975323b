"""The fixed facts of the account the stand-in plays: ids, pipelines, lifetimes, limits, field kinds."""

import re
from typing import Any

Fields = dict[int, dict[str, Any]]  # one entity's custom fields by id

ACCOUNT_ID = 31000001
ACCOUNT_NAME = "Цветочная подписка"
SUBDOMAIN = "flowers"  # the default; a control setting renames it, the id stays
DEFAULT_TIMEZONE = "Europe/Moscow"  # the default; a control setting changes it
COUNTRY, CURRENCY, CURRENCY_SYMBOL = "RU", "RUB", "₽"
SUBDOMAIN_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
API_USER_ID = 8000001  # the integration's own user: the author of API changes
MANAGER_USER_ID = 8000002  # the manager the control API plays
PIPELINE_ID = 7000001
WON, LOST = 142, 143
DEFAULT_CLIENT_ID = "standin-client-id"
DEFAULT_CLIENT_SECRET = "standin-client-secret"  # noqa: S105 - a fake credential for local runs
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/amocrm/oauth/callback/"
HIDDEN = "***"
CODE_LIFETIME = 20 * 60
ACCESS_LIFETIME = 86400
REFRESH_LIFETIME = 90 * 86400
LONG_LIVED_LIFETIME = 5 * 365 * 86400
RATE_LIMIT = 7  # requests per second, whole server
MAX_LEADS_BATCH = 250
MAX_COMPLEX_BATCH = 50
MAX_NOTES_BATCH = 50
MAX_PAGE_LIMIT = 250
DEFAULT_PAGE_LIMIT = 50
TEXT_MAX_LENGTH = 256
NOTE_TEXT_MAX_LENGTH = 65535  # amoCRM documents no limit; a TEXT column's worth is plenty
# The note types the stand-in makes, each with the params it takes (all non-empty strings).
NOTE_PARAMS = {"common": ("text",), "service_message": ("service", "text")}
NOTE_KEYS = {"entity_id", "note_type", "params", "request_id", "responsible_user_id"}
# Tasks (POST /api/v4/tasks): the keys amoCRM takes; 1 "Связаться" (follow-up) and 2 "Встреча" are
# the standard types every account has.
MAX_TASKS_BATCH = 50
TASK_KEYS = {
    "text",
    "complete_till",
    "entity_id",
    "entity_type",
    "responsible_user_id",
    "task_type_id",
    "duration",
    "is_completed",
    "request_id",
}
TASK_TYPES = (1, 2)
TASK_ENTITY_TYPES = ("leads", "contacts", "companies", "customers")
FIELD_TYPES = {
    "text",
    "textarea",
    "numeric",
    "select",
    "multiselect",
    "radiobutton",
    "checkbox",
    "date",
    "date_time",
    "birthday",
    "url",
    "streetaddress",
    "price",
    "monetary",
    "multitext",
}
ENUM_TYPES = {"select", "multiselect", "radiobutton", "multitext"}
SINGLE_VALUE_TYPES = FIELD_TYPES - {"multiselect", "multitext"}
DATE_TYPES = {"date", "date_time", "birthday"}
NUMBER_TYPES = {"numeric", "price", "monetary"}
NUMERIC_STRING = re.compile(r"-?\d+(\.\d+)?")
FIELD_CODE = re.compile(r"[A-Z0-9_]+")
LEAD_KEYS = {
    "id",
    "name",
    "price",
    "status_id",
    "pipeline_id",
    "created_by",
    "updated_by",
    "closed_at",
    "created_at",
    "updated_at",
    "loss_reason_id",
    "responsible_user_id",
    "custom_fields_values",
    "tags_to_add",
    "tags_to_delete",
    "_embedded",
    "request_id",
}
CONTACT_KEYS = {
    "id",
    "name",
    "first_name",
    "last_name",
    "responsible_user_id",
    "created_by",
    "updated_by",
    "created_at",
    "updated_at",
    "custom_fields_values",
    "tags_to_add",
    "tags_to_delete",
    "_embedded",
    "request_id",
}
INTEGER_KEYS = {
    "id",
    "price",
    "status_id",
    "pipeline_id",
    "created_by",
    "updated_by",
    "closed_at",
    "created_at",
    "updated_at",
    "loss_reason_id",
    "responsible_user_id",
}
WEBHOOK_EVENTS = {
    f"{action}_{entity}"
    for entity in ("lead", "contact", "company", "customer", "task")
    for action in ("add", "update", "delete", "restore", "status", "responsible", "note")
}
# What a blocked account answers (amocrm-api-php issues 434, 563): nginx's own page, not JSON.
NGINX_403 = (
    "<html>\r\n<head><title>403 Forbidden</title></head>\r\n<body>\r\n"
    "<center><h1>403 Forbidden</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
PIPELINES = [
    {
        "id": PIPELINE_ID,
        "name": "Воронка",
        "sort": 1,
        "is_main": True,
        "statuses": [
            (60000001, "Неразобранное", 10, 1),
            (60000002, "Первичный контакт", 20, 0),
            (60000003, "Переговоры", 30, 0),
            (60000004, "Принимают решение", 40, 0),
            (WON, "Успешно реализовано", 10000, 0),
            (LOST, "Закрыто и не реализовано", 11000, 0),
        ],
    }
]
FIRST_WORKING_STATUS = 60000002
UNSORTED_TYPE = 1  # «Неразобранное»: the first stage of every pipeline; the leads API takes no lead there
# amoCRM switches a hook off after more than 100 failed deliveries (no 2xx within 2 s) in two hours.
HOOK_OFF_FAILURES = 100
HOOK_OFF_WINDOW = 2 * 3600
# A JSON 403 for a call the connected user may not make (admin-only: webhooks, custom field set-up).
RIGHTS_DETAIL = "Insufficient rights to call this method"
CONTACT_FIELDS = [
    {"id": 500001, "name": "Телефон", "code": "PHONE", "type": "multitext", "sort": 4,
     "enums": ["WORK", "WORKDD", "MOB", "FAX", "HOME", "OTHER"]},
    {"id": 500002, "name": "Email", "code": "EMAIL", "type": "multitext", "sort": 6,
     "enums": ["WORK", "PRIV", "OTHER"]},
    {"id": 500003, "name": "Должность", "code": "POSITION", "type": "text", "sort": 2, "enums": None},
]  # fmt: skip
