"""View-models over small in-memory stand-ins of the core: what a technician would see and what is sent."""

from __future__ import annotations

import datetime
import io
import urllib.parse

import pytest
from PIL import Image

from client.actions import ActionRefused
from client.i18n import t
from client.viewmodels import (
    AppMode,
    AppVM,
    CompletionVM,
    ConflictsVM,
    JobDetailVM,
    LoginStep,
    LoginVM,
    PriceBookVM,
    SyncStateVM,
    TodayVM,
    maps_url,
    mode_for,
    render_signature_png,
)
from shared.roles import Role
from shared.states.job import JobEvent
from tests.client.ui.fakes import TODAY, FakeActions, FakeApi, FakeStatus, FakeStore, at, job

PHONE = "+5491155550004"
NOW = datetime.datetime(2026, 3, 10, 15, 0, tzinfo=datetime.UTC)


# --- login ----------------------------------------------------------------------------------------


async def test_login_normalises_a_local_number_and_signs_in():
    sessions = []
    api = FakeApi({PHONE: "123456"})
    vm = LoginVM(api, sessions.append)
    assert await vm.submit_phone("011 15-5555-0004")
    assert api.requested == [PHONE]
    assert vm.step is LoginStep.CODE
    assert "+54911" in vm.code_prompt and "0004" not in vm.code_prompt  # masked number
    assert await vm.submit_code(" 123 456 ")
    assert vm.step is LoginStep.DONE
    assert sessions and sessions[0].role == Role.TECHNICIAN


@pytest.mark.parametrize(
    ("raw", "key"), [("", "phone.empty"), ("hola", "phone.not_a_number"), ("11 123", "phone.invalid")]
)
async def test_login_bad_phone_is_explained_and_never_sent(raw, key):
    api = FakeApi({})
    vm = LoginVM(api)
    assert not await vm.submit_phone(raw)
    assert vm.error == t(key)
    assert api.requested == []
    assert vm.step is LoginStep.PHONE


async def test_login_wrong_code_and_offline_get_spanish_messages():
    api = FakeApi({PHONE: "123456"})
    vm = LoginVM(api)
    await vm.submit_phone("11 5555-0004")
    assert not await vm.submit_code("12345")
    assert vm.error == t("login.code_invalid_format")
    assert not await vm.submit_code("654321")
    assert vm.error == t("error.otp_invalid")
    assert vm.step is LoginStep.CODE and vm.session is None
    vm.change_phone()
    api.offline = True
    assert not await vm.submit_phone("11 5555-0004")
    assert vm.error == t("login.offline")


# --- today ----------------------------------------------------------------------------------------


def sync_vm(**status) -> SyncStateVM:
    current = FakeStatus(**status)
    return SyncStateVM(lambda: current, clock=lambda: NOW)


async def test_today_orders_by_schedule_with_maps_links():
    store = FakeStore(
        [
            job("b", "Calefón", start=at(14)),
            job("none", "Sin horario", start=None, address=""),
            job("a", "Pérdida de gas", start=at(9, 30), lat=-34.6037, lng=-58.3816),
        ]
    )
    vm = TodayVM(store, sync_vm(), technician_id="u-1", today=lambda: TODAY)
    rows = await vm.refresh()
    assert [r.id for r in rows] == ["a", "b", "none"]
    assert store.day_asked == [(TODAY, "u-1")]
    assert rows[0].time_text == "09:30"
    assert rows[0].maps_url == "https://www.google.com/maps/search/?api=1&query=-34.603700,-58.381600"
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(rows[1].maps_url).query)["query"][0]
    assert query == "Av. Corrientes 1234, CABA"
    assert rows[2].maps_url is None and rows[2].time_text == t("today.no_time")
    assert rows[0].status_label == t("status.scheduled")
    assert vm.empty_text is None


def test_maps_url_prefers_coordinates_and_needs_something():
    assert maps_url(None, None, "  ") is None
    assert maps_url(1.5, 2.25, "x").endswith("query=1.500000,2.250000")


def test_sync_indicator_shows_pending_and_last_sync_age():
    vm = sync_vm(online=False, pending=4, last_sync_at=NOW - datetime.timedelta(minutes=3))
    assert vm.offline and vm.banner_text == t("sync.offline_banner")
    assert vm.pending_text == "4 cambios sin enviar"
    assert vm.last_sync_text == "Última sincronización hace 3 min"
    vm = sync_vm(online=True, pending=0, last_sync_at=None)
    assert not vm.offline and vm.banner_text is None
    assert vm.pending_text == t("sync.all_sent")
    assert vm.last_sync_text == t("sync.never")
    assert sync_vm(pending=1).pending_text == t("sync.pending_one")
    assert sync_vm(last_sync_at=NOW - datetime.timedelta(hours=2)).last_sync_text.endswith("hace 2 h")


# --- job detail -----------------------------------------------------------------------------------


async def test_job_detail_buttons_follow_the_state_machine_for_the_role():
    store = FakeStore([job("j", "Calefón", status="scheduled", start=at(10))])
    actions = FakeActions(store)
    vm = JobDetailVM(store, actions, "j", role=Role.TECHNICIAN)
    await vm.load()
    assert vm.buttons == [(JobEvent.START_TRAVEL, t("event.start_travel"))]
    assert await vm.press(JobEvent.START_TRAVEL)
    assert actions.calls[-1][:2] == ("transition", ("j", "start_travel"))
    assert [e for e, _ in vm.buttons] == [JobEvent.STOP_TRAVEL, JobEvent.START_WORK]
    assert vm.message == t("job.saved")
    await vm.press(JobEvent.START_WORK)
    assert [e for e, _ in vm.buttons] == [JobEvent.COMPLETE]
    assert vm.needs_completion(JobEvent.COMPLETE)
    # a technician never gets the office's moves
    assert not await vm.press(JobEvent.CANCEL)
    assert vm.error


async def test_job_detail_dispatcher_sees_cancel_and_refusals_are_shown():
    store = FakeStore([job("j", "Calefón", status="scheduled")], role=Role.DISPATCHER)
    actions = FakeActions(store)
    vm = JobDetailVM(store, actions, "j", role=Role.DISPATCHER)
    await vm.load()
    assert JobEvent.CANCEL in vm.events and JobEvent.UNSCHEDULE in vm.events
    actions.refuse = ActionRefused("job_transition_not_allowed", "El trabajo ya fue cancelado en la oficina.")
    assert not await vm.press(JobEvent.START_TRAVEL)
    assert "El trabajo ya fue cancelado en la oficina." in vm.error
    assert store.jobs["j"]["status"] == "scheduled"


async def test_job_detail_missing_job_and_empty_note():
    store = FakeStore([job("j", "Calefón")])
    vm = JobDetailVM(store, FakeActions(store), "gone", role=Role.TECHNICIAN)
    assert await vm.load() is None
    assert vm.error == t("job.not_found") and vm.buttons == []
    vm = JobDetailVM(store, FakeActions(store), "j", role=Role.TECHNICIAN)
    await vm.load()
    assert not await vm.add_note("   ")
    assert vm.error == t("job.note_empty")
    assert await vm.add_note(" Dejé la llave en portería ")
    assert vm.notes == ["Dejé la llave en portería"]


# --- completion -----------------------------------------------------------------------------------


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, format="PNG")
    return out.getvalue()


def working_store() -> tuple[FakeStore, FakeActions]:
    store = FakeStore([job("j", "Calefón", status="working")])
    store.items = [{"id": "i1", "name": "Válvula 1/2", "unit": "u", "base_price": "1500.00"}]
    return store, FakeActions(store)


async def test_completion_refuses_missing_fields_by_name():
    store, actions = working_store()
    vm = CompletionVM(store, actions, "j")
    assert not await vm.submit()
    assert vm.error == (
        "Falta completar: notas de cierre o al menos una foto, la firma del cliente, los minutos trabajados."
    )
    assert actions.calls == []
    vm.notes = "Cambié la válvula"
    vm.minutes_text = "diez"
    assert not await vm.submit()
    assert vm.error == t("completion.minutes_invalid")
    vm.minutes_text = "45"
    assert not await vm.submit()
    assert vm.error == "Falta completar: la firma del cliente."
    waived = CompletionVM(store, actions, "j", signature_waived=True)
    waived.notes, waived.minutes_text = "ok", "10"
    assert waived.missing() == ()


async def test_completion_sends_photos_signature_then_complete():
    store, actions = working_store()
    vm = CompletionVM(store, actions, "j", pad_size=(200, 100))
    assert not vm.add_photo("doc.pdf", b"%PDF")
    assert vm.error == t("completion.photo_not_image", name="doc.pdf")
    assert vm.add_photo("caldera.png", png_bytes())
    vm.begin_stroke(10, 10)
    assert vm.extend_stroke(50, 60) is not None
    vm.extend_stroke(-5, 99999)  # off the pad: clamped
    results = await vm.search("válv")
    vm.add_material(results[0], "2")
    vm.minutes_text = "45"
    assert await vm.submit()
    names = [c[0] for c in actions.calls]
    assert names == ["add_photo", "set_signature", "complete"]
    photo = actions.calls[0][1]
    assert photo[2] == "image/png"
    strokes, png = actions.calls[1][1][1], actions.calls[1][1][2]
    assert strokes == [[(10.0, 10.0), (50.0, 60.0), (0.0, 10000.0)]]
    assert Image.open(io.BytesIO(png)).size == (200, 100)
    job_id, notes, materials, minutes = actions.calls[2][1]
    assert (job_id, notes, minutes) == ("j", "", 45)
    assert materials == [{"description": "Válvula 1/2", "quantity": "2", "pricebook_item_id": "i1", "unit": "u"}]
    assert store.jobs["j"]["status"] == "completed" and vm.done


async def test_completion_retry_after_refusal_does_not_resend_photos():
    store, actions = working_store()
    vm = CompletionVM(store, actions, "j")
    vm.add_photo("a.jpg", b"\xff\xd8jpeg")
    vm.begin_stroke(1, 1)
    vm.minutes_text = "30"
    vm.add_material({"id": None, "name": "Caño"}, "0")
    assert not await vm.submit()
    assert vm.error == t("completion.quantity_invalid", name="Caño")
    vm.materials[0].quantity = "1,5"
    assert await vm.submit()
    assert [c[0] for c in actions.calls] == ["add_photo", "set_signature", "complete"]
    assert actions.calls[2][1][2][0]["quantity"] == "1.5"


def test_signature_png_has_ink_where_drawn():
    png = render_signature_png([[{"x": 10, "y": 10}, {"x": 90, "y": 10}]], 100, 20)
    image = Image.open(io.BytesIO(png)).convert("L")
    assert image.getpixel((50, 10)) < 100  # black on the line
    assert image.getpixel((50, 18)) > 200  # white elsewhere


# --- conflicts, price book, app -------------------------------------------------------------------


async def test_conflicts_list_and_acknowledge():
    store = FakeStore()
    store.conflict_rows = [
        {
            "id": "c1",
            "message": "El trabajo fue cancelado en la oficina mientras lo completabas.",
            "device_data": {"title": "Calefón"},
        },
    ]
    vm = ConflictsVM(store)
    rows = await vm.refresh()
    assert rows[0].title == t("conflicts.job", title="Calefón")
    assert "cancelado" in rows[0].message
    await vm.acknowledge("c1")
    assert vm.rows == [] and vm.empty_text == t("conflicts.empty")


async def test_pricebook_search():
    store, _ = working_store()
    vm = PriceBookVM(store)
    assert [r.label for r in await vm.search("VÁLV".lower())] == ["Válvula 1/2"]
    assert vm.rows[0].price == "$ 1500.00"
    assert await vm.search("zzz") == [] and vm.empty_text == t("pricebook.empty")


@pytest.mark.parametrize(
    ("role", "mode"),
    [
        (Role.TECHNICIAN, AppMode.TECHNICIAN),
        (Role.DISPATCHER, AppMode.DISPATCH_BOARD),
        (Role.OWNER, AppMode.OWNER_DASHBOARD),
        (Role.ADMIN, AppMode.OWNER_DASHBOARD),
        (Role.ACCOUNTANT, AppMode.UNSUPPORTED),
        ("hacker", AppMode.UNSUPPORTED),
    ],
)
def test_mode_by_role(role, mode):
    assert mode_for(role) is mode


async def test_app_vm_session_mode_toggle_and_logout():
    saved = []
    api = FakeApi({PHONE: "123456"})
    vm = AppVM(api, load_advanced=lambda: True, save_advanced=saved.append)
    assert vm.restore() is AppMode.LOGIN
    assert vm.advanced
    session = await api.verify_otp(PHONE, "123456")
    assert vm.signed_in(session) is AppMode.TECHNICIAN
    assert vm.user_label == "Diego Fernández (Técnico)"
    assert vm.toggle_advanced() is False and saved == [False]
    await vm.logout()
    assert api.logged_out and vm.mode is AppMode.LOGIN
