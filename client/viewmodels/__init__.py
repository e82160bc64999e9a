"""View-models of the client: plain Python over the core (api, store, actions, sync), no Flet."""

from client.viewmodels.app import AppMode, AppVM, mode_for
from client.viewmodels.completion import CompletionVM, render_signature_png
from client.viewmodels.conflicts import ConflictsVM
from client.viewmodels.job_detail import JobDetailVM
from client.viewmodels.login import LoginStep, LoginVM
from client.viewmodels.pricebook import PriceBookVM
from client.viewmodels.sync_state import SyncStateVM
from client.viewmodels.today import JobRow, TodayVM, maps_url

__all__ = [
    "AppMode",
    "AppVM",
    "CompletionVM",
    "ConflictsVM",
    "JobDetailVM",
    "JobRow",
    "LoginStep",
    "LoginVM",
    "PriceBookVM",
    "SyncStateVM",
    "TodayVM",
    "maps_url",
    "mode_for",
    "render_signature_png",
]
