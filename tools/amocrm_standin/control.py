"""The control API under /_standin/ (JSON or the page's forms, no auth, loopback only): set up the
integration, hand out codes and tokens, expire them, change the account's and the server's settings,
inject failures (whole answers, or one lead's validation) and latency, reset, show what was received
and sent (and a lead's notes), and play a manager who edits, deletes or restores a lead or edits a
contact (which delivers its webhooks now). `/manager/leads/<id>[/delete|/restore]` and
`/manager/contacts/<id>` are the same as `/leads/<id>/manager|delete|restore` and
`/contacts/<id>/manager`.
"""

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from tools.amocrm_standin.manager import delete_lead, edit_contact, edit_lead, restore_lead
from tools.amocrm_standin.models import Account
from tools.amocrm_standin.runtime import Runtime
from tools.amocrm_standin.server import Request, Response, plain_json
from tools.amocrm_standin.shapes import Event
from tools.amocrm_standin.tokens import Tokens
from tools.amocrm_standin.validation import ControlError


class Control:
    """Control routes over the stand-in's parts; `reset` and `deliver` are the stand-in's own."""

    def __init__(
        self,
        *,
        account: Account,
        tokens: Tokens,
        runtime: Runtime,
        reset: Callable[[], None],
        deliver: Callable[[list[Event]], list[dict[str, Any]]],
    ) -> None:
        self.account = account
        self.tokens = tokens
        self.runtime = runtime
        self.reset = reset
        self.deliver = deliver

    def answer(self, request: Request) -> Response:
        if request.is_form:
            data: Any = {k: v[-1] for k, v in parse_qs(request.raw.decode(), keep_blank_values=True).items()}
        elif request.raw:
            try:
                data = json.loads(request.raw)
            except ValueError:
                return plain_json(400, {"error": "the body is not JSON"})
        else:
            data = {}
        if not isinstance(data, dict):
            return plain_json(400, {"error": "the body must be a JSON object"})
        path = request.path.removeprefix("/_standin").rstrip("/")
        try:
            result = self._route(request.method, path, data)
        except ControlError as e:
            return plain_json(400, {"error": str(e)})
        if result is None:
            return plain_json(404, {"error": f"no control route {request.method} {request.path}"})
        if request.is_form:
            return Response(303, headers={"Location": "/"})  # the HTML page's forms
        return plain_json(200, result)

    def manager_edit(self, lead_id: int, data: dict[str, Any]) -> dict[str, Any]:
        """A manager changes a lead in amoCRM's UI: price, status, name, custom fields → webhooks."""
        rendered, events = edit_lead(self.account, lead_id, data)
        return {"lead": rendered, "deliveries": self.deliver(events)}

    def manager_delete(self, lead_id: int, *, quiet: bool = False) -> dict[str, Any]:
        """A manager deletes a lead; `quiet`: its delete hook is lost (never delivered)."""
        events = delete_lead(self.account, lead_id)
        return {"deleted": lead_id, "deliveries": [] if quiet else self.deliver(events)}

    def manager_restore(self, lead_id: int) -> dict[str, Any]:
        """A manager brings a deleted lead back from the trash: same id, same values → restore_lead."""
        rendered, events = restore_lead(self.account, lead_id)
        return {"lead": rendered, "deliveries": self.deliver(events)}

    def manager_edit_contact(self, contact_id: int, data: dict[str, Any]) -> dict[str, Any]:
        """A manager edits a contact: name, phone, email → update_contact."""
        rendered, events = edit_contact(self.account, contact_id, data)
        return {"contact": rendered, "deliveries": self.deliver(events)}

    def configure(self, data: dict[str, Any]) -> dict[str, Any]:
        """The account's settings and the server's in one body, all checked before any is changed."""
        account_part = {k: v for k, v in data.items() if k in self.account.settings}
        runtime_part = {k: v for k, v in data.items() if k not in self.account.settings}
        with self.account.lock:
            unknown = sorted(set(runtime_part) - set(self.runtime.settings))
            if unknown:
                known = sorted([*self.account.settings, *self.runtime.settings])
                raise ControlError(f"unknown setting(s) {unknown}; known: {known}")
            self.runtime.checked_settings(runtime_part)
            return {**self.account.configure(**account_part), **self.runtime.configure(**runtime_part)}

    def _route(self, method: str, path: str, data: dict[str, Any]) -> Any:
        """The route's result as JSON, or None when there is no such route."""
        alias = re.fullmatch(r"/manager/(leads|contacts)/(\d+)(/delete|/restore)?", path)
        if alias:
            path = f"/{alias.group(1)}/{alias.group(2)}{alias.group(3) or '/manager'}"
        match = re.fullmatch(r"/leads/(\d+)(/manager|/delete|/restore|/reject|/notes|/tasks)?", path)
        if match:
            return self._lead_route(method, int(match.group(1)), match.group(2), data)
        match = re.fullmatch(r"/contacts/(\d+)(/manager)?", path)
        if match:
            contact_id = int(match.group(1))
            if method == "GET" and not match.group(2):
                contact = self.account.contact_get(contact_id)
                if contact is None:
                    raise ControlError(f"no contact {contact_id}")
                return contact
            if method == "POST" and match.group(2):
                return self.manager_edit_contact(contact_id, data)
            return None
        with self.account.lock:
            shown = self._shown(method, path)
        if shown is not None:
            return shown
        return self._act(method, path, data)

    def _lead_route(self, method: str, lead_id: int, action: str | None, data: dict[str, Any]) -> Any:
        if method == "GET" and not action:
            lead = self.account.lead_get(lead_id, with_contacts=True)
            if lead is None:
                raise ControlError(f"no lead {lead_id}")
            return lead
        if method == "GET" and action == "/notes":
            with self.account.lock:
                if lead_id not in self.account.leads and lead_id not in self.account.trash:
                    raise ControlError(f"no lead {lead_id}")
                return {"notes": self.account.notes.of_lead(lead_id)}  # a deleted lead's too
        if method == "GET" and action == "/tasks":
            with self.account.lock:
                if lead_id not in self.account.leads and lead_id not in self.account.trash:
                    raise ControlError(f"no lead {lead_id}")
                return {"tasks": self.account.tasks.of_lead(lead_id)}
        if method == "POST" and action == "/manager":
            return self.manager_edit(lead_id, data)
        if method == "POST" and action == "/delete":
            return self.manager_delete(lead_id, quiet=bool(data.get("quiet")))
        if method == "POST" and action == "/restore":
            return self.manager_restore(lead_id)
        if method == "POST" and action == "/reject":
            return {"rejected": self.runtime.reject(lead_id, data.get("message"))}
        if method == "DELETE" and action == "/reject":
            return {"rejected": self.runtime.unreject(lead_id)}
        return None

    def _shown(self, method: str, path: str) -> Any:
        """What the stand-in holds, read in one go under the lock."""
        account, runtime = self.account, self.runtime
        if method == "GET" and path == "/state":
            return {
                "base_url": account.base_url,
                "integration": self.tokens.integration_shown(),
                "settings": {**account.settings, **runtime.settings},
                "failures": [dict(f) for f in runtime.failures],
                "rejected": dict(runtime.rejected),
                "webhooks": account.webhooks_list(),
                "counts": {
                    "leads": len(account.leads),
                    "trash": len(account.trash),
                    "contacts": len(account.contacts),
                    "notes": len(account.notes.notes),
                    "tasks": len(account.tasks.tasks),
                    "requests": len(runtime.requests),
                    "blocked_calls": runtime.blocked_calls,
                },
            }
        if method == "GET" and path == "/leads":
            return {
                "leads": [account.render_lead(lead, with_contacts=True) for lead in account.leads.values()]
            }
        if method == "GET" and path == "/trash":
            return {
                "leads": [account.render_lead(lead, with_contacts=True) for lead in account.trash.values()]
            }
        if method == "GET" and path == "/settings":
            return {**account.settings, **runtime.settings}
        if method == "GET" and path == "/contacts":
            return {"contacts": [account.render_contact(c) for c in account.contacts.values()]}
        if method == "GET" and path == "/fields":
            return json.loads(json.dumps({entity: list(f.values()) for entity, f in account.fields.items()}))
        if method == "GET" and path == "/requests":
            return {"requests": list(runtime.requests)}
        if method == "DELETE" and path == "/requests":
            runtime.requests.clear()
            return {"requests": []}
        if method == "GET" and path == "/deliveries":
            return {"deliveries": list(runtime.deliveries)}
        if method == "GET" and path == "/webhooks":
            return {"webhooks": account.webhooks_list()}
        return None

    def _act(self, method: str, path: str, data: dict[str, Any]) -> Any:
        """What changes the stand-in's setup."""
        if method == "POST" and path == "/integration":
            return self.tokens.configure_integration(**data)
        if method == "POST" and path == "/codes":
            return self.tokens.create_code(self.account.base_url)
        if method == "POST" and path == "/tokens/long-lived":
            return {"access_token": self.tokens.issue_long_lived(data.get("token"))}
        if method == "POST" and path == "/integration/uninstall":
            return self.tokens.uninstall()
        if method == "POST" and path == "/tokens/expire":
            return self.tokens.expire(refresh=bool(data.get("refresh")))
        if method == "POST" and path == "/failures":
            return {"failures": self.runtime.inject_failure(**data)}
        if method == "DELETE" and path == "/failures":
            self.runtime.clear_failures()
            return {"failures": []}
        if method == "POST" and path == "/settings":
            return self.configure(data)
        if method == "POST" and path == "/reset":
            self.reset()
            return {"reset": True}
        return None
