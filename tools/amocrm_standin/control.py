"""The control API under /_standin/ (JSON or the page's forms, no auth, loopback only): set up the
integration, hand out codes and tokens, expire them, inject failures and latency, reset, show what was
received and sent, and play a manager who edits or deletes a lead (which delivers its webhooks now).
"""

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from tools.amocrm_standin.manager import delete_lead, edit_lead
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

    def manager_delete(self, lead_id: int) -> dict[str, Any]:
        events = delete_lead(self.account, lead_id)
        return {"deleted": lead_id, "deliveries": self.deliver(events)}

    def _route(self, method: str, path: str, data: dict[str, Any]) -> Any:
        """The route's result as JSON, or None when there is no such route."""
        match = re.fullmatch(r"/leads/(\d+)(/manager|/delete)?", path)
        if match:
            lead_id = int(match.group(1))
            if method == "GET" and not match.group(2):
                lead = self.account.lead_get(lead_id, with_contacts=True)
                if lead is None:
                    raise ControlError(f"no lead {lead_id}")
                return lead
            if method == "POST" and match.group(2) == "/manager":
                return self.manager_edit(lead_id, data)
            if method == "POST" and match.group(2) == "/delete":
                return self.manager_delete(lead_id)
            return None
        with self.account.lock:
            shown = self._shown(method, path)
        if shown is not None:
            return shown
        return self._act(method, path, data)

    def _shown(self, method: str, path: str) -> Any:
        """What the stand-in holds, read in one go under the lock."""
        account, runtime = self.account, self.runtime
        if method == "GET" and path == "/state":
            return {
                "base_url": account.base_url,
                "integration": self.tokens.integration_shown(),
                "settings": dict(runtime.settings),
                "failures": [dict(f) for f in runtime.failures],
                "webhooks": account.webhooks_list(),
                "counts": {
                    "leads": len(account.leads),
                    "contacts": len(account.contacts),
                    "requests": len(runtime.requests),
                },
            }
        if method == "GET" and path == "/leads":
            return {
                "leads": [account.render_lead(lead, with_contacts=True) for lead in account.leads.values()]
            }
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
        if method == "POST" and path == "/tokens/expire":
            return self.tokens.expire(refresh=bool(data.get("refresh")))
        if method == "POST" and path == "/failures":
            return {"failures": self.runtime.inject_failure(**data)}
        if method == "DELETE" and path == "/failures":
            self.runtime.clear_failures()
            return {"failures": []}
        if method == "POST" and path == "/settings":
            return self.runtime.configure(**data)
        if method == "POST" and path == "/reset":
            self.reset()
            return {"reset": True}
        return None
