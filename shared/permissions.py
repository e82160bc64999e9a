"""Role → permissions, defined once: the server enforces it, the client hides what would be refused."""

from __future__ import annotations

from enum import StrEnum

from shared.roles import Role


class Permission(StrEnum):
    ORG_READ = "org:read"
    ORG_WRITE = "org:write"
    TEAM_READ = "team:read"
    TEAM_MANAGE = "team:manage"
    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_WRITE = "customers:write"
    JOBS_READ_ALL = "jobs:read_all"  # every job of the org
    JOBS_READ_OWN = "jobs:read_own"  # only jobs assigned to the caller
    JOBS_WRITE = "jobs:write"
    JOBS_DISPATCH = "jobs:dispatch"  # assign, reschedule, board
    JOBS_TRANSITION = "jobs:transition"
    PRICEBOOK_READ = "pricebook:read"
    PRICEBOOK_WRITE = "pricebook:write"
    INVOICES_READ = "invoices:read"
    INVOICES_WRITE = "invoices:write"
    INVOICES_ISSUE = "invoices:issue"
    PAYMENTS_READ = "payments:read"
    PAYMENTS_WRITE = "payments:write"
    AUDIT_READ = "audit:read"
    SETTINGS_INTEGRATIONS = "settings:integrations"  # AFIP certificate, Mercado Pago, capabilities
    MESSAGES_READ = "messages:read"
    MESSAGES_SEND = "messages:send"
    SYNC = "sync"


_ALL = frozenset(Permission)

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OWNER: _ALL,
    Role.ADMIN: _ALL,
    Role.DISPATCHER: frozenset(
        {
            Permission.ORG_READ,
            Permission.TEAM_READ,
            Permission.CUSTOMERS_READ,
            Permission.CUSTOMERS_WRITE,
            Permission.JOBS_READ_ALL,
            Permission.JOBS_WRITE,
            Permission.JOBS_DISPATCH,
            Permission.JOBS_TRANSITION,
            Permission.PRICEBOOK_READ,
            Permission.INVOICES_READ,
            Permission.PAYMENTS_READ,
            Permission.MESSAGES_READ,
            Permission.MESSAGES_SEND,
            Permission.SYNC,
        }
    ),
    Role.TECHNICIAN: frozenset(
        {
            Permission.ORG_READ,
            Permission.CUSTOMERS_READ,
            Permission.JOBS_READ_OWN,
            Permission.JOBS_TRANSITION,
            Permission.PRICEBOOK_READ,
            Permission.SYNC,
        }
    ),
    Role.ACCOUNTANT: frozenset(
        {
            Permission.ORG_READ,
            Permission.TEAM_READ,
            Permission.CUSTOMERS_READ,
            Permission.JOBS_READ_ALL,
            Permission.PRICEBOOK_READ,
            Permission.INVOICES_READ,
            Permission.INVOICES_WRITE,
            Permission.INVOICES_ISSUE,
            Permission.PAYMENTS_READ,
            Permission.PAYMENTS_WRITE,
            Permission.AUDIT_READ,
        }
    ),
}

# Who may grant which role: an owner grants any role; an admin every role but owner.
ROLES_GRANTABLE_BY: dict[Role, frozenset[Role]] = {
    Role.OWNER: frozenset(Role),
    Role.ADMIN: frozenset(Role) - {Role.OWNER},
}


def permissions_of(role: Role | str | None) -> frozenset[Permission]:
    if role is None:
        return frozenset()
    try:
        return ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return frozenset()


def has_permission(role: Role | str | None, permission: Permission) -> bool:
    return permission in permissions_of(role)


def can_grant(granter: Role | str, role: Role | str) -> bool:
    try:
        return Role(role) in ROLES_GRANTABLE_BY.get(Role(granter), frozenset())
    except ValueError:
        return False
