"""Django's database sessions (`SESSION_ENGINE`), each read with SQL built once per process.

Every signed-in page reads its session first; Django's store builds that one-table query anew each
time (~0.3 ms of it building SQL, flower_account.prepared). Storage, expiry and everything else
are Django's `db` backend's.
"""

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from flower_account import prepared

SESSION_READ = prepared.PreparedQuery(
    lambda key, now: Session.objects.filter(session_key=key, expire_date__gt=now)[:1],
    key=prepared.TEXT,
    now=prepared.MOMENT,
)


class SessionStore(DatabaseSessionStore):
    def _get_session_from_db(self) -> Session | None:
        session = SESSION_READ.first(key=self.session_key, now=timezone.now())
        if session is None:
            self._session_key = None  # as Django's: an unknown or expired key is dropped
        return session
