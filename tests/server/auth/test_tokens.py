from __future__ import annotations

import datetime
import uuid

import httpx
import jwt
from litestar.security.jwt import Token

from server.settings import Settings
from tests.server.auth.conftest import Session


async def test_refresh_rotates_and_reuse_closes_the_family(client: httpx.AsyncClient, owner: Session) -> None:
    first = await client.post("/api/v1/auth/refresh", json={"refreshToken": owner.refresh})
    assert first.status_code == 200
    pair = first.json()
    assert pair["refreshToken"] != owner.refresh
    ok = await client.get("/api/v1/users", headers={"Authorization": f"Bearer {pair['accessToken']}"})
    assert ok.status_code == 200
    # the spent token comes back: stolen-token detection
    replay = await client.post("/api/v1/auth/refresh", json={"refreshToken": owner.refresh})
    assert replay.status_code == 401 and replay.json()["code"] == "refresh_token_reused"
    # the whole family is gone: the newest refresh token and the access token too
    newest = await client.post("/api/v1/auth/refresh", json={"refreshToken": pair["refreshToken"]})
    assert newest.status_code == 401
    denied = await client.get("/api/v1/users", headers={"Authorization": f"Bearer {pair['accessToken']}"})
    assert denied.status_code == 401 and denied.json()["code"] == "session_revoked"


async def test_garbage_refresh_tokens(client: httpx.AsyncClient) -> None:
    for token in ("not-a-token-at-all", f"{uuid.uuid4().hex}.abcdefghijklmnop", "zz.zzzzzzzzzzzzzzzz"):
        response = await client.post("/api/v1/auth/refresh", json={"refreshToken": token})
        assert response.status_code == 401 and response.json()["code"] == "refresh_token_invalid"


def _token(secret: str, owner: Session, *, minutes: int) -> str:
    now = datetime.datetime.now(datetime.UTC)
    claims = {
        "sub": owner.user_id,
        "exp": int((now + datetime.timedelta(minutes=minutes)).timestamp()),
        "iat": int((now - datetime.timedelta(minutes=30)).timestamp()),
        "iss": "campotech",
        "org": owner.org_id,
        "role": "owner",
        "sid": str(owner.body["sessionId"]),
    }
    return jwt.encode(claims, secret, algorithm="HS256")


async def test_expired_access_token(client: httpx.AsyncClient, owner: Session, settings: Settings) -> None:
    expired = _token(settings.secret_key or "", owner, minutes=-1)
    response = await client.get("/api/v1/users", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and response.json()["code"] == "token_expired"


async def test_token_signed_with_another_key(client: httpx.AsyncClient, owner: Session) -> None:
    forged = _token("another-key-another-key-another-key-0123", owner, minutes=10)
    response = await client.get("/api/v1/users", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401 and response.json()["code"] == "token_invalid"


async def test_missing_and_malformed_authorization(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/users")
    assert missing.status_code == 401 and missing.json()["code"] == "auth_required"
    basic = await client.get("/api/v1/users", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert basic.json()["code"] == "token_invalid"
    junk = await client.get("/api/v1/users", headers={"Authorization": "Bearer junk"})
    assert junk.json()["code"] == "token_invalid"


async def test_access_token_carries_identity(owner: Session, settings: Settings) -> None:
    decoded = Token.decode(owner.access, settings.secret_key or "", "HS256")
    assert decoded.sub == owner.user_id
    assert decoded.extras["org"] == owner.org_id and decoded.extras["role"] == "owner"
    assert (decoded.exp - decoded.iat) == datetime.timedelta(minutes=15)
