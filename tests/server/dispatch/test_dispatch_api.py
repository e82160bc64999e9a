"""The dispatch board, the calendar and double-bookings through the API.

2026-12-02 is a Wednesday (weekday 2); Buenos Aires is UTC-3 all year, so its day is
[2026-12-02T03:00Z, 2026-12-03T03:00Z).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event

from server.runtime import Resources
from tests.server.auth.conftest import Session, add_member, sign_up
from tests.server.jobs.conftest import Team

JOBS = "/api/v1/jobs"
BOARD = "/api/v1/dispatch/board"
CONFLICTS = "/api/v1/dispatch/conflicts"
CALENDAR = "/api/v1/calendar"
DAY = "2026-12-02"


async def create_job(
    client: httpx.AsyncClient, who: Session, customer_id: str, title: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post(JOBS, headers=who.headers, json={"customerId": customer_id, "title": title} | fields)
    assert response.status_code == 201, response.text
    return response.json()


async def job(client: httpx.AsyncClient, team: Team, title: str, *techs: Session, **fields: Any) -> str:
    if techs:
        fields["technicianIds"] = [t.user_id for t in techs]
    return str((await create_job(client, team.dispatcher, team.customer["id"], title, **fields))["id"])


async def cancel(client: httpx.AsyncClient, team: Team, job_id: str) -> None:
    response = await client.post(
        f"{JOBS}/{job_id}/transitions", headers=team.dispatcher.headers, json={"event": "cancel", "reason": "x"}
    )
    assert response.status_code == 200, response.text


async def get(client: httpx.AsyncClient, who: Session, url: str, **params: Any) -> dict[str, Any]:
    response = await client.get(url, headers=who.headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def lane(board: dict[str, Any], who: Session) -> dict[str, Any]:
    return next(t for t in board["technicians"] if t["technicianId"] == who.user_id)


def titles(jobs: list[dict[str, Any]]) -> list[str]:
    return [j["title"] for j in jobs]


def pairs(conflicts: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {(c["technicianId"], c["first"]["title"], c["second"]["title"]) for c in conflicts}


@contextmanager
def counting(resources: Resources) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(resources.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(resources.engine.sync_engine, "before_cursor_execute", record)


# ---------------------------------------------------------------------------------------------- board


async def test_board_places_the_day_and_lists_unassigned_unscheduled_and_conflicts(
    client: httpx.AsyncClient, resources: Resources, team: Team
) -> None:
    a, b = team.tech, team.other_tech
    c = await add_member(client, resources, team.owner, "technician")
    await job(
        client, team, "A 10-11:30", a, scheduledStart=f"{DAY}T10:00:00-03:00", scheduledEnd=f"{DAY}T11:30:00-03:00"
    )
    await job(client, team, "A 11:00 est 30", a, scheduledStart=f"{DAY}T11:00:00-03:00", estimatedMinutes=30)
    await cancel(client, team, await job(client, team, "A cancelled", a, scheduledStart=f"{DAY}T10:30:00-03:00"))
    # timezone edges: the local day, not the UTC one
    await job(client, team, "B late", b, scheduledStart=f"{DAY}T23:30:00-03:00")  # 02:30Z next UTC day: in
    await job(client, team, "B previous night", b, scheduledStart="2026-12-01T23:30:00-03:00",
              scheduledEnd=f"{DAY}T01:00:00-03:00")  # fmt: skip  # 02:30Z on the 2nd (UTC): out, but spills over
    await job(client, team, "B early", b, scheduledStart=f"{DAY}T00:30:00-03:00")  # overlaps the spill-over
    await job(client, team, "B next day", b, scheduledStart="2026-12-03T00:00:00-03:00")  # the end bound: out
    await job(client, team, "C midnight", c, scheduledStart=f"{DAY}T00:00:00-03:00")  # the start bound: in
    await job(client, team, "Nobody", scheduledStart=f"{DAY}T14:00:00-03:00")
    await job(client, team, "Unscheduled", estimatedMinutes=90)
    await job(client, team, "Unscheduled of C", c)

    with counting(resources) as statements:
        board = await get(client, team.dispatcher, BOARD, date=DAY)

    assert board["date"] == DAY and board["slotMinutes"] == 60 and board["workingDay"] is True
    assert (board["opens"], board["closes"]) == ("08:00", "18:00")
    assert len(board["slots"]) == 10
    assert (
        board["slots"][0]["start"] == f"{DAY}T08:00:00-03:00" and board["slots"][-1]["end"] == f"{DAY}T18:00:00-03:00"
    )
    assert {t["technicianId"] for t in board["technicians"]} == {a.user_id, b.user_id, c.user_id}

    a_jobs = lane(board, a)["jobs"]
    assert titles(a_jobs) == ["A 10-11:30", "A 11:00 est 30"]  # the cancelled one is off the board
    first, second = a_jobs
    assert first["slots"] == [2, 3] and first["endEstimated"] is False
    assert first["start"] == f"{DAY}T10:00:00-03:00" and first["end"] == f"{DAY}T11:30:00-03:00"
    assert second["end"] == f"{DAY}T11:30:00-03:00" and second["endEstimated"] is True and second["slots"] == [3]
    assert first["customerName"] == "Consorcio Belgrano" and first["status"] == "pending"
    assert first["priority"] == "normal" and first["technicianIds"] == [a.user_id]

    b_jobs = lane(board, b)["jobs"]
    assert titles(b_jobs) == ["B early", "B late"]
    assert b_jobs[1]["slots"] == [] and b_jobs[1]["end"] == "2026-12-03T00:30:00-03:00"  # outside working hours
    assert titles(lane(board, c)["jobs"]) == ["C midnight"]

    assert titles(board["unassigned"]) == ["Nobody"] and board["unassigned"][0]["slots"] == [6]
    assert titles(board["unscheduled"]) == ["Unscheduled", "Unscheduled of C"]
    assert board["unscheduled"][0]["estimatedMinutes"] == 90
    assert board["unscheduled"][1]["technicianIds"] == [c.user_id]

    assert pairs(board["conflicts"]) == {
        (a.user_id, "A 10-11:30", "A 11:00 est 30"),
        (b.user_id, "B previous night", "B early"),
    }
    conflict_a = next(x for x in board["conflicts"] if x["technicianId"] == a.user_id)
    assert conflict_a["overlapStart"] == f"{DAY}T11:00:00-03:00" and conflict_a["overlapEnd"] == f"{DAY}T11:30:00-03:00"
    assert conflict_a["technicianName"] == "Miembro technician"

    # a constant number of queries: more technicians and jobs cost no more
    d = await add_member(client, resources, team.owner, "technician")
    for hour in (8, 9, 12, 13):
        await job(client, team, f"D {hour}", d, a, scheduledStart=f"{DAY}T{hour:02d}:00:00-03:00")
    with counting(resources) as more_statements:
        bigger = await get(client, team.dispatcher, BOARD, date=DAY)
    assert len(bigger["technicians"]) == 4 and len(lane(bigger, d)["jobs"]) == 4
    selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(more_statements) == len(statements)
    # the tenant's set_config, then the working hours, the technicians, the day's jobs, the unscheduled ones
    assert len(statements) == len(selects) == 5, statements
    assert sum("FROM jobs" in s for s in selects) == 2


async def test_slots_follow_the_organisation_working_hours(client: httpx.AsyncClient, team: Team) -> None:
    response = await client.patch(
        "/api/v1/organization",
        headers=team.owner.headers,
        json={"workingHours": [{"weekday": 2, "opens": "09:00", "closes": "13:15"}]},
    )
    assert response.status_code == 200, response.text
    await job(
        client, team, "A", team.tech, scheduledStart=f"{DAY}T10:00:00-03:00", scheduledEnd=f"{DAY}T11:30:00-03:00"
    )

    board = await get(client, team.dispatcher, BOARD, date=DAY, slotMinutes=30)
    assert (board["opens"], board["closes"], board["workingDay"]) == ("09:00", "13:15", True)
    assert len(board["slots"]) == 9  # 09:00 … 13:00, the last one cut at 13:15
    assert board["slots"][-1] == {"index": 8, "start": f"{DAY}T13:00:00-03:00", "end": f"{DAY}T13:15:00-03:00"}
    assert lane(board, team.tech)["jobs"][0]["slots"] == [2, 3, 4]

    thursday = await get(client, team.dispatcher, BOARD, date="2026-12-03")  # no hours that weekday
    assert (thursday["opens"], thursday["closes"], thursday["workingDay"]) == ("08:00", "18:00", False)
    assert len(thursday["slots"]) == 10

    bad = await client.get(BOARD, headers=team.dispatcher.headers, params={"date": DAY, "slotMinutes": 5})
    assert bad.status_code == 422
    assert (await client.get(BOARD, headers=team.dispatcher.headers)).status_code == 422  # the day is required


async def test_technicians_cannot_see_the_board_or_the_conflicts(client: httpx.AsyncClient, team: Team) -> None:
    for url, params in ((BOARD, {"date": DAY}), (CONFLICTS, {"from": DAY, "to": DAY})):
        response = await client.get(url, headers=team.tech.headers, params=params)
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "permission_denied"
    assert (await client.get(BOARD, params={"date": DAY})).status_code == 401


# ---------------------------------------------------------------------------------------------- conflicts


async def test_conflicts_list_double_bookings_in_the_range(client: httpx.AsyncClient, team: Team) -> None:
    a, b = team.tech, team.other_tech
    await job(client, team, "A1", a, b, scheduledStart=f"{DAY}T09:00:00-03:00", estimatedMinutes=120)
    await job(client, team, "A2", a, scheduledStart=f"{DAY}T10:00:00-03:00")
    await job(client, team, "B back to back", b, scheduledStart=f"{DAY}T11:00:00-03:00")  # touches, no overlap
    await cancel(client, team, await job(client, team, "B cancelled", b, scheduledStart=f"{DAY}T09:30:00-03:00"))
    await job(client, team, "A late", a, scheduledStart="2026-12-05T23:30:00-03:00", estimatedMinutes=90)
    await job(client, team, "A after midnight", a, scheduledStart="2026-12-06T00:15:00-03:00")

    listed = await get(client, team.dispatcher, CONFLICTS, **{"from": DAY, "to": DAY})
    assert listed["fromDate"] == DAY and listed["toDate"] == DAY
    assert pairs(listed["items"]) == {(a.user_id, "A1", "A2")}  # cancelled and back-to-back jobs do not conflict

    week = await get(client, team.dispatcher, CONFLICTS, **{"from": "2026-11-30", "to": "2026-12-06"})
    assert pairs(week["items"]) == {(a.user_id, "A1", "A2"), (a.user_id, "A late", "A after midnight")}
    saturday = await get(client, team.dispatcher, CONFLICTS, **{"from": "2026-12-05", "to": "2026-12-05"})
    assert saturday["items"] == []  # the overlap (00:15–01:00) is on Sunday
    sunday = await get(client, team.dispatcher, CONFLICTS, **{"from": "2026-12-06", "to": "2026-12-06"})
    assert pairs(sunday["items"]) == {(a.user_id, "A late", "A after midnight")}  # found across midnight

    too_long = await client.get(CONFLICTS, headers=team.dispatcher.headers, params={"from": DAY, "to": "2027-01-02"})
    assert too_long.status_code == 422 and too_long.json()["code"] == "validation_failed"


# ---------------------------------------------------------------------------------------------- calendar


async def test_calendar_range_validation(client: httpx.AsyncClient, team: Team) -> None:
    def ask(**params: str) -> Any:
        return client.get(CALENDAR, headers=team.dispatcher.headers, params=params)

    assert (await ask(**{"from": "2026-12-01", "to": "2027-01-01"})).status_code == 422  # 32 days
    backwards = await ask(**{"from": "2026-12-02", "to": "2026-12-01"})
    assert backwards.status_code == 422 and backwards.json()["details"][0]["maxDays"] == 31
    assert (await ask(**{"from": "2026-12-01"})).status_code == 422
    assert (await ask(**{"from": "2026-12-01", "to": "mañana"})).status_code == 422
    month = await ask(**{"from": "2026-12-01", "to": "2026-12-31"})
    assert month.status_code == 200 and len(month.json()["days"]) == 31


async def test_calendar_groups_by_local_day_and_technicians_see_only_their_own(
    client: httpx.AsyncClient, team: Team
) -> None:
    a, b = team.tech, team.other_tech
    await job(client, team, "A Monday", a, scheduledStart="2026-11-30T09:00:00-03:00")
    await job(client, team, "A Tuesday night", a, scheduledStart="2026-12-01T22:00:00-03:00")  # UTC: Wednesday
    await job(client, team, "Both Wednesday", a, b, scheduledStart=f"{DAY}T09:00:00-03:00")
    await job(client, team, "B Wednesday", b, scheduledStart=f"{DAY}T15:00:00-03:00")
    await job(client, team, "Nobody Thursday", scheduledStart="2026-12-03T15:00:00-03:00")
    await cancel(client, team, await job(client, team, "A cancelled", a, scheduledStart=f"{DAY}T12:00:00-03:00"))
    await job(client, team, "Next week", a, scheduledStart="2026-12-07T09:00:00-03:00")
    week = {"from": "2026-11-30", "to": "2026-12-06"}

    everyone = await get(client, team.dispatcher, CALENDAR, **week)
    assert [d["date"] for d in everyone["days"]] == [f"2026-{m}-{d:02d}" for m, d in
                                                     [("11", 30)] + [("12", i) for i in range(1, 7)]]  # fmt: skip
    by_day = {d["date"]: titles(d["jobs"]) for d in everyone["days"]}
    assert by_day["2026-11-30"] == ["A Monday"]
    assert by_day["2026-12-01"] == ["A Tuesday night"]
    assert by_day[DAY] == ["Both Wednesday", "B Wednesday"]
    assert by_day["2026-12-03"] == ["Nobody Thursday"] and by_day["2026-12-06"] == []
    both = everyone["days"][2]["jobs"][0]
    assert set(both["technicianIds"]) == {a.user_id, b.user_id} and both["slots"] == []

    only_b = await get(client, team.dispatcher, CALENDAR, technicianId=b.user_id, **week)
    assert only_b["technicianId"] == b.user_id
    assert [t for d in only_b["days"] for t in titles(d["jobs"])] == ["Both Wednesday", "B Wednesday"]

    own = await get(client, a, CALENDAR, **week)
    assert own["technicianId"] == a.user_id
    assert [t for d in own["days"] for t in titles(d["jobs"])] == ["A Monday", "A Tuesday night", "Both Wednesday"]
    assert (await get(client, a, CALENDAR, technicianId=a.user_id, **week))["days"] == own["days"]
    others = await client.get(CALENDAR, headers=a.headers, params={"technicianId": b.user_id, **week})
    assert others.status_code == 403 and others.json()["code"] == "permission_denied"


# ---------------------------------------------------------------------------------------------- isolation


async def test_another_organisations_jobs_never_appear(
    client: httpx.AsyncClient, resources: Resources, team: Team
) -> None:
    await job(client, team, "Ours", team.tech, scheduledStart=f"{DAY}T10:00:00-03:00")
    await job(client, team, "Ours too", team.tech, scheduledStart=f"{DAY}T10:30:00-03:00")

    other_owner = await sign_up(client, resources, "Otra SRL")
    other_tech = await add_member(client, resources, other_owner, "technician")
    customer = await client.post(
        "/api/v1/customers", headers=other_owner.headers, json={"name": "Cliente ajeno", "phone": "+5491144440000"}
    )
    assert customer.status_code == 201, customer.text
    cid = customer.json()["id"]
    for title, start in (("Theirs", "10:00"), ("Theirs too", "10:15")):
        await create_job(client, other_owner, cid, title, scheduledStart=f"{DAY}T{start}:00-03:00",
                         technicianIds=[other_tech.user_id])  # fmt: skip
    await create_job(client, other_owner, cid, "Theirs unscheduled")
    await create_job(client, other_owner, cid, "Theirs unassigned", scheduledStart=f"{DAY}T12:00:00-03:00")

    ours = await get(client, team.dispatcher, BOARD, date=DAY)
    assert other_tech.user_id not in {t["technicianId"] for t in ours["technicians"]}
    seen = [j["title"] for t in ours["technicians"] for j in t["jobs"]]
    seen += titles(ours["unassigned"]) + titles(ours["unscheduled"])
    assert sorted(seen) == ["Ours", "Ours too"]
    assert pairs(ours["conflicts"]) == {(team.tech.user_id, "Ours", "Ours too")}

    span = {"from": DAY, "to": DAY}
    assert pairs((await get(client, team.dispatcher, CONFLICTS, **span))["items"]) == pairs(ours["conflicts"])
    calendar = await get(client, team.dispatcher, CALENDAR, **span)
    assert titles(calendar["days"][0]["jobs"]) == ["Ours", "Ours too"]
    # another organisation's technician id filters down to nothing rather than leaking
    foreign = await get(client, team.dispatcher, CALENDAR, technicianId=other_tech.user_id, **span)
    assert foreign["days"][0]["jobs"] == []

    theirs = await get(client, other_owner, BOARD, date=DAY)
    assert [t["technicianId"] for t in theirs["technicians"]] == [other_tech.user_id]
    assert titles(lane(theirs, other_tech)["jobs"]) == ["Theirs", "Theirs too"]
    assert titles(theirs["unassigned"]) == ["Theirs unassigned"]
    assert titles(theirs["unscheduled"]) == ["Theirs unscheduled"]
