from __future__ import annotations

import pytest

from server.domain.auth.senders import SandboxOtpSender
from server.runtime import Resources


async def test_dev_console_shows_the_code_but_not_the_whole_phone(
    resources: Resources, capsys: pytest.CaptureFixture[str]
) -> None:
    sender = SandboxOtpSender(resources.redis, echo_to_console=True)
    await sender.send("+5491155550777", "482913", "login")
    printed = capsys.readouterr().err
    assert "482913" in printed
    assert "+5491155550777" not in printed and printed.count("777") == 1
    assert await sender.last_code("+5491155550777") == "482913"
