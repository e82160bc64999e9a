"""Login screen: phone, then the code."""

from __future__ import annotations

import flet as ft

from client.i18n import t
from client.ui.common import big_button, error_text, push
from client.viewmodels.login import LoginStep, LoginVM


class LoginView:
    def __init__(self, vm: LoginVM) -> None:
        self.vm = vm
        self.phone = ft.TextField(
            label=t("login.phone_label"),
            hint_text=t("login.phone_hint"),
            keyboard_type=ft.KeyboardType.PHONE,
            autofocus=True,
            on_submit=self.send_code,
            key="phone",
        )
        self.send = big_button(t("login.send_code"), self.send_code, key="send-code")
        self.code = ft.TextField(
            label=t("login.code_label"),
            keyboard_type=ft.KeyboardType.NUMBER,
            max_length=6,
            on_submit=self.verify,
            key="code",
        )
        self.prompt = ft.Text("", size=16, key="code-prompt")
        self.verify_button = big_button(t("login.verify"), self.verify, key="verify")
        self.change = ft.TextButton(content=t("login.change_phone"), on_click=self.change_phone, key="change-phone")
        self.error = error_text(None)
        self.phone_step = ft.Column([self.phone, ft.Row([self.send])], spacing=16)
        self.code_step = ft.Column([self.prompt, self.code, ft.Row([self.verify_button]), self.change], spacing=16)
        self.control = ft.Column(
            [
                ft.Text(t("login.title"), size=26, weight=ft.FontWeight.BOLD),
                self.phone_step,
                self.code_step,
                self.error,
            ],
            spacing=20,
            key="login",
        )
        self.render()
        vm.subscribe(self._changed)

    def _changed(self) -> None:
        # while the server answers (busy), the buttons show disabled at once, not after the handler
        self.render()
        push(self.control)

    def render(self) -> None:
        self.phone_step.visible = self.vm.step is LoginStep.PHONE
        self.code_step.visible = self.vm.step is LoginStep.CODE
        self.prompt.value = self.vm.code_prompt if self.vm.phone else ""
        self.error.value = self.vm.error or ""
        self.error.visible = bool(self.vm.error)
        self.send.disabled = self.verify_button.disabled = self.vm.busy

    async def send_code(self, e=None) -> None:
        await self.vm.submit_phone(self.phone.value or "")
        self.render()

    async def verify(self, e=None) -> None:
        await self.vm.submit_code(self.code.value or "")
        self.render()

    def change_phone(self, e=None) -> None:
        self.vm.change_phone()
        self.code.value = ""
        self.render()
