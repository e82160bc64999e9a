"""Which app a signed-in person gets, by role, and the technician's simple/advanced mode."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any

from client.i18n import t
from client.viewmodels._util import Observable, resolve
from shared.roles import Role


class AppMode(StrEnum):
    LOGIN = "login"
    TECHNICIAN = "technician"  # Android: today's jobs, job detail, completion
    DISPATCH_BOARD = "dispatch_board"  # web: the board (a placeholder listing today's jobs for now)
    OWNER_DASHBOARD = "owner_dashboard"  # desktop: the business dashboard (placeholder)
    UNSUPPORTED = "unsupported"  # a role with no app here (accountant)


MODE_BY_ROLE: dict[Role, AppMode] = {
    Role.TECHNICIAN: AppMode.TECHNICIAN,
    Role.DISPATCHER: AppMode.DISPATCH_BOARD,
    Role.OWNER: AppMode.OWNER_DASHBOARD,
    Role.ADMIN: AppMode.OWNER_DASHBOARD,
}


def mode_for(role: str | None) -> AppMode:
    try:
        return MODE_BY_ROLE.get(Role(role or ""), AppMode.UNSUPPORTED)
    except ValueError:
        return AppMode.UNSUPPORTED


class AppVM(Observable):
    """The shell's state: the session (from ApiClient) and, for technicians, simple or advanced mode."""

    def __init__(
        self,
        api: Any,
        *,
        load_advanced: Callable[[], bool] | None = None,
        save_advanced: Callable[[bool], None] | None = None,
    ) -> None:
        super().__init__()
        self.api = api
        self.session: Any = None
        self._save_advanced = save_advanced
        self.advanced = bool(load_advanced()) if load_advanced else False

    def restore(self) -> AppMode:
        """The session kept on the device (no network: a technician in a basement can still work)."""
        session = self.api.session() if hasattr(self.api, "session") else None
        self.session = session if session is not None and getattr(session, "role", "") else None
        self.changed()
        return self.mode

    def signed_in(self, session: Any) -> AppMode:
        self.session = session
        self.changed()
        return self.mode

    @property
    def mode(self) -> AppMode:
        return AppMode.LOGIN if self.session is None else mode_for(self.session.role)

    @property
    def role(self) -> str | None:
        return getattr(self.session, "role", None)

    @property
    def user_label(self) -> str:
        if self.session is None:
            return ""
        role = self.session.role
        return t("settings.user", name=self.session.full_name, role=t(f"role.{role}"))

    @property
    def unsupported_text(self) -> str:
        return t("app.unsupported_role", role=t(f"role.{self.role}") if self.role else "?")

    def set_advanced(self, on: bool) -> None:
        self.advanced = bool(on)
        if self._save_advanced is not None:
            self._save_advanced(self.advanced)
        self.changed()

    def toggle_advanced(self) -> bool:
        self.set_advanced(not self.advanced)
        return self.advanced

    async def logout(self) -> None:
        await resolve(self.api.logout())
        self.session = None
        self.changed()
