"""OTP delivery by WhatsApp: the real Cloud API client against the sandbox over real HTTP on 127.0.0.1."""

from __future__ import annotations

import io
import logging
import re
import secrets
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpx
import msgspec
import pytest

from server.asgi import create_app
from server.domain.auth.deps import build_otp_sender
from server.domain.auth.senders import SandboxOtpSender, WhatsAppOtpSender
from server.embedded import free_port
from server.integrations.whatsapp import (
    WhatsAppClient,
    WhatsAppPermanentError,
    WhatsAppTransientError,
    whatsapp_recipient,
)
from server.runtime import Resources
from server.sandbox.whatsapp import RunningWhatsAppSandbox, start_whatsapp_sandbox
from server.settings import Settings
from tests.conftest import running
from tests.server.auth.conftest import clear_cooldown, random_phone, sign_up

TOKEN = "wa-test-token-" + secrets.token_hex(12)
PHONE_NUMBER_ID = "109876543210987"
VERSION = "v21.0"


@pytest.fixture(name="wa", scope="module")
def fixture_wa() -> Iterator[RunningWhatsAppSandbox]:
    with start_whatsapp_sandbox("127.0.0.1", free_port(), access_token=TOKEN, phone_number_id=PHONE_NUMBER_ID) as wa:
        assert wa.port < 32768
        yield wa


@pytest.fixture(autouse=True)
def _fresh_sandbox(wa: RunningWhatsAppSandbox) -> None:
    wa.sandbox.reset()


def make_client(
    wa: RunningWhatsAppSandbox, token: str = TOKEN, phone_number_id: str = PHONE_NUMBER_ID
) -> WhatsAppClient:
    return WhatsAppClient(wa.url, VERSION, phone_number_id, token)


@contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Everything the app's log handler writes (JSON lines, after redaction), at INFO."""
    stream = io.StringIO()
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_campotech", False))
    previous = handler.setStream(stream)  # type: ignore[attr-defined]
    root_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.INFO)
    try:
        yield stream
    finally:
        handler.setStream(previous)  # type: ignore[attr-defined]
        logging.getLogger().setLevel(root_level)


def assert_code_not_in(logs: str, code: str) -> None:
    # six digits could match a timestamp's microseconds: look for them as values
    assert f'"{code}"' not in logs and f"={code}" not in logs and f": {code}" not in logs


# -- the client ---------------------------------------------------------------------------------


async def test_template_payload_is_what_the_cloud_api_expects(wa: RunningWhatsAppSandbox) -> None:
    message_id = await make_client(wa).send_template(
        "+5491155550001", "campotech_codigo", "es_AR", ["482913"], button_params=["482913"]
    )
    assert message_id.startswith("wamid.")
    # read back over HTTP, as `campotech dev` or a person would
    async with httpx.AsyncClient(base_url=wa.url) as http:
        delivered = (await http.get("/_sandbox/messages", params={"to": "5491155550001"})).json()["messages"]
    assert len(delivered) == 1
    sent = delivered[0]
    assert sent["id"] == message_id and sent["phone_number_id"] == PHONE_NUMBER_ID and sent["api_version"] == VERSION
    assert sent["payload"] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "5491155550001",
        "type": "template",
        "template": {
            "name": "campotech_codigo",
            "language": {"policy": "deterministic", "code": "es_AR"},
            "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "482913"}]},
                {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "482913"}]},
            ],
        },
    }


@pytest.mark.parametrize("phone", ["+5491155550001", "+541155550001", "011 15-5555-0001", "5491155550001"])
def test_argentine_mobiles_are_sent_as_549_digits(phone: str) -> None:
    assert whatsapp_recipient(phone) == "5491155550001"


def test_other_countries_keep_their_digits() -> None:
    assert whatsapp_recipient("+34 612 345 678") == "34612345678"


async def test_a_bad_token_is_a_permanent_error_without_the_token(wa: RunningWhatsAppSandbox) -> None:
    wrong = "wrong-token-" + secrets.token_hex(8)
    with pytest.raises(WhatsAppPermanentError) as caught:
        await make_client(wa, token=wrong).send_template("+5491155550001", "campotech_codigo", "es_AR", ["111222"])
    error = caught.value
    assert error.status == 401 and error.meta_code == 190 and not error.transient
    assert wrong not in str(error) and "111222" not in str(error) and wrong not in repr(make_client(wa, token=wrong))
    assert wa.sandbox.messages() == []


async def test_an_unknown_phone_number_id_is_permanent(wa: RunningWhatsAppSandbox) -> None:
    with pytest.raises(WhatsAppPermanentError) as caught:
        await make_client(wa, phone_number_id="1").send_template("+5491155550001", "t", "es_AR", ["1"])
    assert caught.value.status == 400 and caught.value.meta_code == 100


async def test_a_server_error_is_transient_and_the_next_send_succeeds(wa: RunningWhatsAppSandbox) -> None:
    wa.sandbox.fail_next(1, status=500)
    client = make_client(wa)
    with pytest.raises(WhatsAppTransientError) as caught:
        await client.send_template("+5491155550001", "campotech_codigo", "es_AR", ["123123"], ["123123"])
    assert caught.value.status == 500 and caught.value.meta_code is None and caught.value.transient
    assert await client.send_template("+5491155550001", "campotech_codigo", "es_AR", ["123123"], ["123123"])
    assert len(wa.sandbox.messages("5491155550001")) == 1


@pytest.mark.parametrize(
    ("status", "code", "transient"),
    [
        (400, 130429, True),  # throughput rate limit
        (400, 131056, True),  # same recipient too often
        (503, 131000, True),
        (400, 131026, False),  # recipient cannot receive
        (400, 132001, False),  # template does not exist
    ],
)
async def test_meta_error_codes_are_classified(
    wa: RunningWhatsAppSandbox, status: int, code: int, transient: bool
) -> None:
    # injected through the sandbox's HTTP control, as another process would
    async with httpx.AsyncClient(base_url=wa.url) as http:
        answer = await http.post("/_sandbox/failures", json={"count": 1, "status": status, "code": code})
        assert answer.status_code == 200
    expected = WhatsAppTransientError if transient else WhatsAppPermanentError
    with pytest.raises(expected) as caught:
        await make_client(wa).send_template("+5491155550001", "campotech_codigo", "es_AR", ["1"], ["1"])
    assert caught.value.meta_code == code and caught.value.status == status
    assert str(code) in str(caught.value)


async def test_an_unreachable_api_is_transient() -> None:
    client = WhatsAppClient(f"http://127.0.0.1:{free_port()}", VERSION, PHONE_NUMBER_ID, TOKEN)
    with pytest.raises(WhatsAppTransientError):
        await client.send_template("+5491155550001", "campotech_codigo", "es_AR", ["1"])


async def test_a_timeout_is_transient() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(hang)) as http:
        client = WhatsAppClient("https://graph.facebook.com", VERSION, PHONE_NUMBER_ID, TOKEN, http)
        with pytest.raises(WhatsAppTransientError):
            await client.send_template("+5491155550001", "campotech_codigo", "es_AR", ["1"])


async def test_the_sandbox_refuses_malformed_payloads(wa: RunningWhatsAppSandbox) -> None:
    url = f"/{VERSION}/{PHONE_NUMBER_ID}/messages"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=wa.url, headers=headers) as http:
        with_plus = await http.post(
            url,
            json={
                "messaging_product": "whatsapp",
                "to": "+5491155550001",
                "type": "template",
                "template": {"name": "x", "language": {"code": "es_AR"}},
            },
        )
        no_language = await http.post(
            url,
            json={
                "messaging_product": "whatsapp",
                "to": "5491155550001",
                "type": "template",
                "template": {"name": "x"},
            },
        )
        bad_param = await http.post(
            url,
            json={
                "messaging_product": "whatsapp",
                "to": "5491155550001",
                "type": "template",
                "template": {
                    "name": "x",
                    "language": {"code": "es_AR"},
                    "components": [{"type": "body", "parameters": [{"type": "text", "text": 1}]}],
                },
            },
        )
    assert with_plus.status_code == 400 and with_plus.json()["error"]["code"] == 100
    assert no_language.status_code == 400 and no_language.json()["error"]["code"] == 131008
    assert bad_param.status_code == 400 and bad_param.json()["error"]["code"] == 100
    assert wa.sandbox.messages() == []


# -- wiring and end to end ----------------------------------------------------------------------


def whatsapp_settings(settings: Settings, wa: RunningWhatsAppSandbox) -> Settings:
    return msgspec.structs.replace(
        settings,
        otp_delivery="whatsapp",
        whatsapp_api_base=wa.url,
        whatsapp_api_version=VERSION,
        whatsapp_phone_number_id=PHONE_NUMBER_ID,
        whatsapp_access_token=TOKEN,
    )


def test_the_sender_follows_the_settings(settings: Settings, resources: Resources, wa: RunningWhatsAppSandbox) -> None:
    assert isinstance(build_otp_sender(settings, resources), SandboxOtpSender)
    sender = build_otp_sender(whatsapp_settings(settings, wa), resources)
    assert isinstance(sender, WhatsAppOtpSender)
    assert sender.template_name == "campotech_codigo" and sender.language == "es_AR"
    assert sender.client.messages_url == f"{wa.url}/{VERSION}/{PHONE_NUMBER_ID}/messages"


@pytest.fixture(name="wa_client")
async def fixture_wa_client(
    settings: Settings, resources: Resources, wa: RunningWhatsAppSandbox
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app with otp_delivery=whatsapp pointed at the sandbox (same database and Redis)."""
    wa_settings = whatsapp_settings(settings, wa)
    wa_resources = Resources(
        settings=wa_settings,
        engine=resources.engine,
        sessionmaker=resources.sessionmaker,
        redis=resources.redis,
        metrics=resources.metrics,
    )
    app = create_app(wa_settings, wa_resources)
    address = f"10.{secrets.randbelow(250)}.{secrets.randbelow(250)}.{1 + secrets.randbelow(250)}"
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    try:
        async with running(app), httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client
    finally:
        if wa_resources.queues is not None:
            await wa_resources.queues.close()


async def test_login_code_arrives_by_whatsapp_and_verifies(
    client: httpx.AsyncClient, wa_client: httpx.AsyncClient, resources: Resources, wa: RunningWhatsAppSandbox
) -> None:
    owner = await sign_up(client, resources)  # signed up with the sandbox sender: a user with a phone
    await clear_cooldown(resources, owner.phone)
    await resources.redis.delete(f"sandbox:otp:{owner.phone}")
    with captured_logs() as stream:
        requested = await wa_client.post("/api/v1/auth/otp/request", json={"phone": owner.phone})
        assert requested.status_code == 202, requested.text
        delivered = wa.sandbox.messages(to=owner.phone.lstrip("+"))
        assert len(delivered) == 1 and len(wa.sandbox.messages()) == 1
        message = delivered[0]
        assert message.type == "template" and message.template_name == "campotech_codigo"
        assert message.language_code == "es_AR"
        code = message.body_params[0]
        assert re.fullmatch(r"\d{6}", code) and message.body_params == [code] and message.button_params == [code]
        verified = await wa_client.post("/api/v1/auth/otp/verify", json={"phone": owner.phone, "code": code})
        assert verified.status_code == 200, verified.text
        assert verified.json()["user"]["id"] == owner.user_id
    assert await resources.redis.get(f"sandbox:otp:{owner.phone}") is None  # nothing went through the sandbox
    logs = stream.getvalue()
    assert "login code sent" in logs and "whatsapp template sent" in logs  # it was logged…
    assert_code_not_in(logs, code)  # …without the code, the token or the phone
    assert TOKEN not in logs and owner.phone not in logs and owner.phone.lstrip("+") not in logs


async def test_unknown_phones_get_nothing_by_whatsapp(wa_client: httpx.AsyncClient, wa: RunningWhatsAppSandbox) -> None:
    response = await wa_client.post("/api/v1/auth/otp/request", json={"phone": random_phone()})
    assert response.status_code == 202
    assert wa.sandbox.messages() == [] and wa.sandbox.requests == 0


async def test_a_failed_delivery_answers_503_and_logs_no_code(
    client: httpx.AsyncClient, wa_client: httpx.AsyncClient, resources: Resources, wa: RunningWhatsAppSandbox
) -> None:
    owner = await sign_up(client, resources)
    await clear_cooldown(resources, owner.phone)
    wa.sandbox.fail_next(1, status=400, code=130429)
    with captured_logs() as stream:
        response = await wa_client.post("/api/v1/auth/otp/request", json={"phone": owner.phone})
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "service_unavailable" and response.headers["Retry-After"] == "60"
    assert wa.sandbox.requests == 1 and wa.sandbox.messages() == []
    logs = stream.getvalue()
    assert "otp delivery by whatsapp failed" in logs and "130429" in logs
    assert TOKEN not in logs and owner.phone not in logs
