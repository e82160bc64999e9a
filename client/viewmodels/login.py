"""Login by phone OTP: the phone step (normalised with shared.phones), then the 6-digit code step."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any, Protocol

from client.i18n import t
from client.viewmodels._util import Observable, error_text, resolve
from shared.phones import InvalidPhone, mask_phone, normalize_phone


class LoginApi(Protocol):
    def request_otp(self, phone: str) -> Any: ...

    def verify_otp(self, phone: str, code: str, device_name: str | None = None) -> Any: ...


class LoginStep(StrEnum):
    PHONE = "phone"
    CODE = "code"
    DONE = "done"


class LoginVM(Observable):
    def __init__(
        self,
        api: LoginApi,
        on_session: Callable[[Any], Awaitable[None] | None] | None = None,
        *,
        device_name: str | None = None,
    ) -> None:
        super().__init__()
        self.api = api
        self.on_session = on_session
        self.device_name = device_name or t("login.device_name")
        self.step = LoginStep.PHONE
        self.phone: str | None = None  # E.164 once accepted
        self.error: str | None = None
        self.busy = False
        self.session: Any = None

    @property
    def code_prompt(self) -> str:
        return t("login.code_title", phone=mask_phone(self.phone or ""))

    async def _busy(self, call: Callable[[], Any]) -> tuple[bool, Any]:
        """Run an API call with ``busy`` shown; (False, None) with ``error`` set when it fails."""
        self.busy = True
        self.changed()
        try:
            return True, await resolve(call())
        except Exception as exc:
            self.error = error_text(exc)
            return False, None
        finally:
            self.busy = False
            self.changed()

    async def submit_phone(self, raw: str) -> bool:
        """Normalise the phone and ask the server for a code; True when the code step is next."""
        self.error = None
        try:
            phone = normalize_phone(raw)
        except InvalidPhone as exc:
            self.error = t(f"phone.{exc.problem.value}")
            self.changed()
            return False
        ok, _ = await self._busy(lambda: self.api.request_otp(phone))
        if not ok:
            return False
        self.phone = phone
        self.step = LoginStep.CODE
        self.changed()
        return True

    async def submit_code(self, raw: str) -> bool:
        """Verify the code; on success the session goes to ``on_session``."""
        self.error = None
        code = "".join(ch for ch in (raw or "") if not ch.isspace())
        if len(code) != 6 or not code.isdigit():
            self.error = t("login.code_invalid_format")
            self.changed()
            return False
        if self.phone is None:
            self.step = LoginStep.PHONE
            self.changed()
            return False
        phone = self.phone
        ok, session = await self._busy(lambda: self.api.verify_otp(phone, code, self.device_name))
        if not ok:
            return False
        self.session = session
        self.step = LoginStep.DONE
        self.changed()
        if self.on_session is not None:
            await resolve(self.on_session(session))
        return True

    def change_phone(self) -> None:
        self.step = LoginStep.PHONE
        self.error = None
        self.changed()
