"""Wire contracts of sign-up, OTP login, tokens and sessions."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated

import msgspec

from shared.schemas.base import CamelStruct

Phone = Annotated[str, msgspec.Meta(min_length=6, max_length=40, examples=["+5491155550001", "011 15-5555-0001"])]
OtpCode = Annotated[str, msgspec.Meta(min_length=1, max_length=12, examples=["123456"])]


class SignupRequest(CamelStruct):
    cuit: Annotated[str, msgspec.Meta(max_length=20, examples=["30-71234567-1"])]
    business_name: Annotated[str, msgspec.Meta(min_length=2, max_length=200, examples=["Plomería Gómez SRL"])]
    phone: Phone
    full_name: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class OtpRequest(CamelStruct):
    phone: Phone


class OtpVerifyRequest(CamelStruct):
    phone: Phone
    code: OtpCode
    device_name: Annotated[str, msgspec.Meta(max_length=120)] | None = None


class OtpSent(CamelStruct):
    """202 answer: a code is on its way (said the same whether or not the phone has an account)."""

    status: str = "code_sent"
    expires_in_seconds: int = 300
    resend_after_seconds: int = 60


class UserSummary(CamelStruct):
    id: uuid.UUID
    full_name: str
    phone: str
    role: str
    is_active: bool


class OrganizationSummary(CamelStruct):
    id: uuid.UUID
    name: str
    cuit: str


class TokenPair(CamelStruct):
    access_token: str
    refresh_token: str
    token_type: str = "Bearer"
    expires_in: int = 900
    session_id: uuid.UUID | None = None
    user: UserSummary | None = None
    organization: OrganizationSummary | None = None


class RefreshRequest(CamelStruct):
    refresh_token: Annotated[str, msgspec.Meta(min_length=10, max_length=200)]


class SessionInfo(CamelStruct):
    id: uuid.UUID
    device_name: str | None
    user_agent: str | None
    created_at: datetime.datetime
    last_used_at: datetime.datetime | None
    expires_at: datetime.datetime
    current: bool
