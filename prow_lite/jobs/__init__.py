"""ProwJobs: what a job is (type, refs, state, timestamps) and the SQLite store every component shares."""

from __future__ import annotations

from prow_lite.jobs.store import (
    JobState,
    JobStore,
    JobType,
    ProwJob,
    Pull,
    Refs,
    job_id,
    status_description,
    status_state,
)

__all__ = [
    "JobState",
    "JobStore",
    "JobType",
    "ProwJob",
    "Pull",
    "Refs",
    "job_id",
    "status_description",
    "status_state",
]
