"""What a cron route answers: which job ran and what it did."""

from __future__ import annotations

from pydantic import BaseModel


class CronRunOut(BaseModel):
    job: str
    done: dict[str, int]  # e.g. {"released": 2}: what the pass changed, per kind
    skipped: str | None = None  # why the job had nothing to do here (payments not configured)
