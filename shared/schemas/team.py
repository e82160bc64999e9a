"""Wire contracts of the team (members of an organisation)."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated

import msgspec

from shared.roles import Role
from shared.schemas.auth import Phone
from shared.schemas.base import CamelStruct


class Member(CamelStruct):
    id: uuid.UUID
    full_name: str
    phone: str
    role: Role
    is_active: bool
    joined_at: datetime.datetime | None
    last_login_at: datetime.datetime | None
    created_at: datetime.datetime


class MemberInvite(CamelStruct):
    phone: Phone
    full_name: Annotated[str, msgspec.Meta(min_length=2, max_length=200)]
    role: Role


class MemberUpdate(CamelStruct):
    full_name: Annotated[str, msgspec.Meta(min_length=2, max_length=200)] | msgspec.UnsetType = msgspec.UNSET
    role: Role | msgspec.UnsetType = msgspec.UNSET
    is_active: bool | msgspec.UnsetType = msgspec.UNSET
