"""The customer's Usage page: the request log with filters and pages, and its CSV export."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response, StreamingResponse

from gateway.deps import RuntimeDep
from gateway.errors import InvalidRequest
from gateway.routes.console.web import SECURITY_HEADERS, ConsoleRoute, Customer, render
from gateway.services.keys import manage
from gateway.services.reports import usage as reports
from gateway.services.reports.export import usage_csv

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)
PAGE = 50
UTC_ZONE = ZoneInfo("UTC")


@dataclass(frozen=True, slots=True)
class Filters:
    """What the form asked for, as typed (to fill the form again) and as query bounds."""

    key_id: str | None
    model: str | None
    start: date | None
    end: date | None
    zone: ZoneInfo

    @property
    def since(self) -> float | None:
        return self._midnight(self.start)

    @property
    def until(self) -> float | None:  # the end date is included: up to the next midnight
        return self._midnight(self.end + timedelta(days=1)) if self.end else None

    def _midnight(self, day: date | None) -> float | None:
        return None if day is None else datetime.combine(day, time(), self.zone).timestamp()

    def query(self, **extra: str) -> str:
        given = {
            "key_id": self.key_id, "model": self.model, "start": self.start and self.start.isoformat(),
            "end": self.end and self.end.isoformat(), "tz": self.zone.key, **extra,
        }  # fmt: skip
        return urlencode({name: value for name, value in given.items() if value})


def _zone(name: str | None) -> ZoneInfo:
    """The viewer's time zone (sent by the page's script), else UTC."""
    try:
        return ZoneInfo(name) if name else UTC_ZONE
    except (ZoneInfoNotFoundError, ValueError):
        return UTC_ZONE


def _day(text: str | None, name: str) -> date | None:
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        day = date.max
    if day == date.max:  # the day after (where a 'to' date ends) would be past the calendar
        raise InvalidRequest(f"{name}: expected a date like 2026-11-29")
    return day


Text = Annotated[str | None, Query(max_length=200)]


def filters(
    *, key_id: Text = None, model: Text = None, start: Text = None, end: Text = None, tz: Text = None
) -> Filters:
    """The query's filters (a dependency of both the page and the export)."""
    found = Filters(key_id or None, model or None, _day(start, "from"), _day(end, "to"), _zone(tz))
    if found.start and found.end and found.start > found.end:
        raise InvalidRequest("the 'from' date is after the 'to' date")
    return found


Chosen = Annotated[Filters, Depends(filters)]


@router.get("/usage")
async def usage(
    request: Request, viewer: Customer, runtime: RuntimeDep, chosen: Chosen,
    before: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:  # fmt: skip
    assert viewer.principal is not None  # noqa: S101 - Customer guarantees it
    user_id = viewer.principal.user_id
    rows = await reports.usage_search(
        runtime.db, user_id=user_id, limit=PAGE + 1, key_id=chosen.key_id, model=chosen.model,
        since=chosen.since, until=chosen.until, before=before,
    )  # fmt: skip
    older = f"/console/usage?{chosen.query(before=rows[PAGE - 1].usage.id)}" if len(rows) > PAGE else None
    keys = await manage.list_keys(runtime.db, user_id=user_id, limit=100, after=None, environment=None)
    models = [name for name, _ in await reports.grouped(runtime.db, by="model", user_id=user_id)]
    return render(
        request, "usage.html", viewer=viewer, rows=rows[:PAGE], older=older, chosen=chosen, keys=keys,
        models=models, export=f"/console/usage.csv?{chosen.query()}", first_page=before is None,
    )  # fmt: skip


@router.get("/usage.csv")
async def usage_export(viewer: Customer, runtime: RuntimeDep, chosen: Chosen) -> Response:
    """Every matching record, streamed in chunks (a year of traffic is not held in memory)."""
    assert viewer.principal is not None  # noqa: S101 - Customer guarantees it
    chunks = reports.usage_export(
        runtime.db, user_id=viewer.principal.user_id, key_id=chosen.key_id, model=chosen.model,
        since=chosen.since, until=chosen.until,
    )  # fmt: skip
    return StreamingResponse(
        usage_csv(chunks),
        media_type="text/csv; charset=utf-8",
        headers={**SECURITY_HEADERS, "content-disposition": 'attachment; filename="usage.csv"'},
    )
