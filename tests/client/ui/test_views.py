"""Views in-process: build the real Flet control trees over view-models on in-memory stand-ins of the
core, call the handlers as Flet would, and assert on what the screen shows."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import io
from types import SimpleNamespace
from typing import Any

import flet as ft
import flet.canvas as cv
from PIL import Image

from client.i18n import t
from client.ui.common import SyncBar
from client.ui.completion import CompletionView
from client.ui.job_detail import JobDetailView
from client.ui.login import LoginView
from client.ui.shell import Services, Shell
from client.ui.today import TodayView
from client.viewmodels import AppVM, CompletionVM, JobDetailVM, LoginVM, SyncStateVM, TodayVM
from shared.roles import Role
from tests.client.ui.fakes import TODAY, FakeActions, FakeApi, FakeEngine, FakeStatus, FakeStore, at, job

PHONE = "+5491155550004"


def walk(control: Any):
    """Every control under ``control`` (itself included), through any field holding controls."""
    if isinstance(control, ft.BaseControl):
        yield control
        for f in dataclasses.fields(control):
            if f.name.startswith("_") or f.name == "parent":
                continue
            value = getattr(control, f.name, None)
            if isinstance(value, ft.BaseControl):
                yield from walk(value)
            elif isinstance(value, list):
                for item in value:
                    yield from walk(item)


def find(root: Any, key: str) -> Any:
    found = [c for c in walk(root) if c.key == key]
    assert found, f"no control with key {key!r}"
    return found[0]


def visible(control: Any) -> bool:
    return control.visible is not False


def texts(root: Any) -> list[str]:
    out = []
    for c in walk(root):
        if isinstance(c, ft.Text) and visible(c) and c.value:
            out.append(c.value)
        if isinstance(c, ft.Button | ft.TextButton | ft.FilledButton | ft.OutlinedButton) and isinstance(
            c.content, str
        ):
            out.append(c.content)
    return out


def field_event(control: Any) -> Any:
    return SimpleNamespace(control=control)


# --- login ----------------------------------------------------------------------------------------


async def test_login_view_phone_then_code():
    sessions = []
    vm = LoginVM(FakeApi({PHONE: "123456"}), sessions.append)
    view = LoginView(vm)
    assert visible(view.phone_step) and not view.code_step.visible
    view.phone.value = "11 5555"
    await view.send.on_click(None)
    assert view.error.visible and view.error.value == t("phone.invalid")
    view.phone.value = "11 5555-0004"
    await view.phone.on_submit(None)  # the keyboard's "go" works like the button
    assert view.code_step.visible and not view.phone_step.visible and not view.error.visible
    assert view.code.keyboard_type == ft.KeyboardType.NUMBER
    view.code.value = "000000"
    await view.verify_button.on_click(None)
    assert view.error.value == t("error.otp_invalid")
    view.code.value = "123456"
    await view.verify_button.on_click(None)
    assert sessions and sessions[0].full_name == "Diego Fernández"


# --- today and sync bar ---------------------------------------------------------------------------


async def test_today_view_cards_in_order_with_maps_and_open():
    store = FakeStore(
        [job("b", "Calefón", start=at(14)), job("a", "Pérdida de gas", start=at(9), lat=-34.6, lng=-58.4)]
    )
    opened = []
    vm = TodayVM(store, SyncStateVM(lambda: None), today=lambda: TODAY)
    await vm.refresh()
    view = TodayView(vm, opened.append)
    cards = view.list.controls
    assert [c.key for c in cards] == ["job-a", "job-b"]
    assert "Pérdida de gas" in texts(cards[0]) and "09:00 · Programado" in texts(cards[0])
    assert find(cards[0], "maps-a").url.endswith("query=-34.600000,-58.400000")
    await find(cards[1], "open-b").on_click(None)
    assert opened == ["b"]
    assert find(cards[0], "open-a").height >= 56  # big buttons


async def test_today_view_empty():
    vm = TodayVM(FakeStore([]), SyncStateVM(lambda: None), today=lambda: TODAY)
    await vm.refresh()
    view = TodayView(vm, lambda job_id: None)
    assert view.empty.visible and view.empty.value == t("today.empty") and view.list.controls == []


def test_sync_bar_offline_and_pending():
    status = FakeStatus(online=False, pending=2, last_sync_at=datetime.datetime.now(datetime.UTC))
    bar = SyncBar(SyncStateVM(lambda: status))
    assert bar.banner.visible and bar.banner_text.value == t("sync.offline_banner")
    assert bar.pending.value == "2 cambios sin enviar" and bar.last.value == "Última sincronización recién"
    status.online, status.pending = True, 0
    bar.render()
    assert not bar.banner.visible and bar.pending.value == t("sync.all_sent")


# --- job detail -----------------------------------------------------------------------------------


async def test_job_detail_big_buttons_move_the_job():
    store = FakeStore([job("j", "Calefón", status="scheduled", start=at(10))])
    actions = FakeActions(store)
    vm = JobDetailVM(store, actions, "j", role=Role.TECHNICIAN)
    await vm.load()
    completions = []
    view = JobDetailView(vm, on_back=lambda: None, on_complete=completions.append)
    assert [b.key for b in walk(view.buttons) if isinstance(b, ft.FilledButton)] == ["event-start_travel"]
    await find(view.control, "event-start_travel").on_click(None)
    keys = [b.key for b in walk(view.buttons) if isinstance(b, ft.FilledButton)]
    assert keys == ["event-stop_travel", "event-start_work"]
    assert view.message.visible and t("status.en_camino") in " ".join(texts(view.facts))
    await find(view.control, "event-start_work").on_click(None)
    await find(view.control, "event-complete").on_click(None)
    assert completions == ["j"]  # completing opens the completion flow; no move yet
    assert store.jobs["j"]["status"] == "working"
    view.note.value = "Falta un repuesto"
    await view.add_note_button.on_click(None)
    assert "Falta un repuesto" in texts(view.notes) and view.note.value == ""


# --- completion -----------------------------------------------------------------------------------


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (2, 2), "blue").save(out, format="PNG")
    return out.getvalue()


class FakePicker:
    def __init__(self, files):
        self.files = files
        self.asked: dict[str, Any] = {}

    async def pick_files(self, **kwargs):
        self.asked = kwargs
        return self.files


def drag(x: float, y: float) -> Any:
    return SimpleNamespace(local_position=ft.Offset(x, y))


async def test_completion_view_full_flow():
    store = FakeStore([job("j", "Calefón", status="working")])
    store.items = [{"id": "i1", "name": "Válvula esférica", "base_price": "900"}]
    actions = FakeActions(store)
    vm = CompletionVM(store, actions, "j", pad_size=(300, 120))
    picker = FakePicker([SimpleNamespace(name="foto.png", bytes=png()), SimpleNamespace(name="x.txt", bytes=b"x")])
    done = []
    view = CompletionView(vm, on_done=lambda: done.append(True), on_back=lambda: None, file_picker=lambda: picker)

    await view.submit_button.on_click(None)
    assert view.error.visible and view.error.value.startswith("Falta completar: notas de cierre o al menos una foto")
    assert actions.calls == []

    await find(view.control, "add-photo").on_click(None)
    assert picker.asked["with_data"] is True and picker.asked["file_type"] == ft.FilePickerFileType.IMAGE
    assert view.photo_count.value == "1 foto" and view.error.value == t("completion.photo_not_image", name="x.txt")

    pad = view.pad.detector
    pad.on_pan_start(drag(10, 10))
    pad.on_pan_update(drag(40, 30))
    pad.on_pan_update(drag(80, 35))
    lines = [s for s in view.pad.canvas.shapes if isinstance(s, cv.Line)]
    assert [(line.x1, line.y1, line.x2, line.y2) for line in lines] == [(10, 10, 40, 30), (40, 30, 80, 35)]

    view.search.value = "válvula"
    await view.search.on_submit(None)
    find(view.results, "result-0").on_click(None)
    assert "Válvula esférica" in texts(view.materials)

    view.notes.value = "Cambio de válvula"
    view.notes.on_change(field_event(view.notes))
    view.minutes.value = "50"
    await view.submit_button.on_click(None)
    assert done == [True], view.error.value
    assert [c[0] for c in actions.calls] == ["add_photo", "set_signature", "complete"]
    assert actions.calls[2][1][1:] == (
        "Cambio de válvula",
        [{"description": "Válvula esférica", "quantity": "1", "pricebook_item_id": "i1"}],
        50,
    )


async def test_completion_clear_signature_empties_the_pad():
    store = FakeStore([job("j", "Calefón", status="working")])
    view = CompletionView(CompletionVM(store, FakeActions(store), "j"), on_done=lambda: None, on_back=lambda: None)
    view.pad.detector.on_pan_start(drag(1, 1))
    view.pad.detector.on_pan_update(drag(5, 5))
    assert view.pad.canvas.shapes
    find(view.control, "clear-signature").on_click(None)
    assert view.pad.canvas.shapes == [] and view.vm.signature.empty


# --- the shell ------------------------------------------------------------------------------------


class FakePage:
    """The members of ft.Page the shell uses: controls, navigation_bar, title, update(), run_task()."""

    def __init__(self) -> None:
        self.controls: list[Any] = []
        self.navigation_bar: Any = None
        self.title = ""
        self.tasks: list[asyncio.Task] = []

    def update(self, *controls: Any) -> None:
        pass

    def run_task(self, fn, *args):
        task = asyncio.get_running_loop().create_task(fn(*args))
        self.tasks.append(task)
        return task

    async def settle(self) -> None:
        await asyncio.sleep(0)


def shell_for(role: str, jobs=None, advanced: bool = False):
    store = FakeStore(jobs or [], role=role)
    engine = FakeEngine(FakeStatus(online=False, pending=3))
    api = FakeApi({PHONE: "123456"}, role=role)
    page = FakePage()
    opened = []

    async def open_services(session):
        opened.append(session)
        return Services(store=store, actions=FakeActions(store), engine=engine)

    app = AppVM(api, load_advanced=lambda: advanced)
    return Shell(page, app, open_services), page, store, engine, opened


async def log_in(shell: Shell, page: FakePage) -> None:
    login = shell.screen
    assert isinstance(login, LoginView)
    login.phone.value = "1155550004"
    await login.send.on_click(None)
    login.code.value = "123456"
    await login.verify_button.on_click(None)


async def test_shell_technician_simple_mode_from_login_to_job():
    jobs = [job("j", "Calefón", status="scheduled", start=at(10))]
    shell, page, _, engine, opened = shell_for(Role.TECHNICIAN, jobs)
    await shell.start()
    assert isinstance(shell.screen, LoginView) and page.navigation_bar is None
    await log_in(shell, page)
    assert opened and isinstance(shell.screen, TodayView)
    assert page.navigation_bar is None  # simple mode: no tabs
    assert find(page.controls[0], "offline-banner").visible  # engine offline
    assert find(page.controls[0], "sync-pending").value == "3 cambios sin enviar"
    await find(shell.body, "open-j").on_click(None)
    assert isinstance(shell.screen, JobDetailView) and shell.screen.title.value == "Calefón"
    await find(shell.body, "back").on_click(None)
    assert isinstance(shell.screen, TodayView)
    engine.status.online = True
    engine.callbacks[0]()  # the engine reports a change: banner goes away
    await asyncio.sleep(0.01)
    assert not find(page.controls[0], "offline-banner").visible
    await find(shell.body, "to-advanced").on_click(None)
    assert isinstance(page.navigation_bar, ft.NavigationBar)
    assert [d.label for d in page.navigation_bar.destinations] == [
        t("tab.today"),
        t("tab.conflicts"),
        t("tab.pricebook"),
        t("tab.settings"),
    ]
    await shell.logout()
    assert isinstance(shell.screen, LoginView)


async def test_shell_advanced_tabs_conflicts_and_logout():
    shell, page, store, *_ = shell_for(Role.TECHNICIAN, advanced=True)
    store.conflict_rows = [{"id": "c1", "message": "Cancelado en la oficina", "device_data": {}}]
    await shell.start()
    await log_in(shell, page)
    bar = page.navigation_bar
    bar.selected_index = 1
    await bar.on_change(field_event(bar))
    assert "Cancelado en la oficina" in texts(shell.body)
    await find(shell.body, "ack-c1").on_click(None)
    assert t("conflicts.empty") in texts(shell.body)
    bar.selected_index = 3
    await bar.on_change(field_event(bar))
    await find(shell.body, "logout").on_click(None)
    assert isinstance(shell.screen, LoginView) and shell.app.api.logged_out


async def test_shell_dispatcher_gets_board_and_owner_dashboard():
    shell, page, *_ = shell_for(Role.DISPATCHER, [job("j", "Calefón", start=at(11))])
    shell.app.api.conflicts = [
        {
            "id": "c-1",
            "message": "El trabajo se canceló en la oficina mientras lo hacías sin conexión.",
            "serverData": {"title": "Pérdida de gas"},
            "deviceData": {
                "op": "job.transition",
                "payload": {"event": "complete", "completionNotes": "Cambié la llave de paso."},
                "createdAt": "2026-11-25T17:32:00+00:00",
            },
        }
    ]
    await shell.start()
    await log_in(shell, page)
    shown = texts(shell.body)
    assert t("board.title") in shown and "11:00 · Calefón · Programado" in shown
    # the office sees what the technician did offline on a job it cancelled, until it marks it seen
    assert t("conflicts.job", title="Pérdida de gas") in shown
    did = "Lo que hizo el técnico (25/11 14:32): Terminar trabajo. Notas del técnico: Cambié la llave de paso."
    assert did in shown
    await find(shell.body, "office-ack-c-1").on_click(None)
    assert shell.app.api.acknowledged == ["c-1"] and t("office_conflicts.empty") in texts(shell.body)
    await shell.logout()
    assert isinstance(shell.screen, LoginView)
    shell, page, *_ = shell_for(Role.OWNER)
    await shell.start()
    await log_in(shell, page)
    assert t("dashboard.title") in texts(shell.body) and page.navigation_bar is None
    shell, page, *_ = shell_for(Role.ACCOUNTANT)
    await shell.start()
    await log_in(shell, page)
    assert shell.app.unsupported_text in texts(shell.body)
