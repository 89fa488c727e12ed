"""The job store: ProwJobs in one SQLite file that hook, plank and tide share, each process with its own connection.

A job is created once under a deterministic id (`job_id`), so a replayed webhook delivery creates nothing new, and
then only its state moves: triggered -> pending -> success | failure | aborted | error. A completed job keeps its
state (an abort arriving after a success changes nothing). Times are seconds since the epoch (UTC).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from prow_lite.db import Database

SCHEMA_VERSION = 1
# https://docs.github.com/en/rest/commits/statuses: a status description is at most 140 characters
DESCRIPTION_MAX = 140
_BASE_SHA = " BaseSHA:"  # Prow's delimiter (config.ContextDescriptionWithBaseSha); tide reads the SHA after it
_PAD = "\u2001"  # Prow left-pads the suffix with U+2001 (GitHub's UI collapses plain spaces)
_ELIDE = " ... "
_ID_NAMESPACE = uuid.UUID("6f1c7d36-51c4-4a44-9a43-2b0b1d6c8e11")


class JobType(StrEnum):
    PRESUBMIT = "presubmit"
    POSTSUBMIT = "postsubmit"
    PERIODIC = "periodic"
    BATCH = "batch"


class JobState(StrEnum):
    TRIGGERED = "triggered"
    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"
    ABORTED = "aborted"
    ERROR = "error"


_COMPLETE = frozenset({JobState.SUCCESS, JobState.FAILURE, JobState.ABORTED, JobState.ERROR})


@dataclass(frozen=True, slots=True)
class Pull:
    number: int
    author: str
    sha: str
    title: str = ""
    head_ref: str = ""


@dataclass(frozen=True, slots=True)
class Refs:
    """What a job runs on: a base branch at a SHA plus the pulls merged onto it (none for postsubmits).

    Periodic jobs have empty refs (every field "").
    """

    org: str
    repo: str
    base_ref: str
    base_sha: str
    pulls: tuple[Pull, ...] = ()


@dataclass(frozen=True, slots=True)
class ProwJob:
    id: str
    type: JobType
    job: str  # the job's name in the job config
    state: JobState
    refs: Refs
    context: str = ""  # the GitHub status context
    cluster: str = "default"
    created_at: float = 0.0
    started_at: float | None = None  # when it went pending
    completed_at: float | None = None
    url: str = ""
    description: str = ""
    rerun_command: str = ""
    spec: Mapping[str, Any] = field(default_factory=dict)  # the job's command or pod spec from config
    report: bool = True  # not skip_report: plank posts its statuses
    max_concurrency: int = 0  # 0: unbounded


def job_id(*parts: str) -> str:
    """A deterministic id (UUID-shaped, like Prow's job names) for what identifies one job: same parts, same id."""
    if not parts:
        raise ValueError("job_id needs at least one part")
    return str(uuid.uuid5(_ID_NAMESPACE, "\x00".join(parts)))


def status_state(job_state: JobState) -> str:
    """The GitHub status state Prow reports for a job state (crier's prowjobStateToGitHubStatus)."""
    if job_state in (JobState.TRIGGERED, JobState.PENDING):
        return "pending"
    if job_state is JobState.ABORTED:
        return "failure"
    return str(job_state)


_DEFAULT_DESCRIPTIONS = {
    JobState.TRIGGERED: "Job triggered.",
    JobState.PENDING: "Job triggered.",  # plank sets this text when the job starts
    JobState.SUCCESS: "Job succeeded.",
    JobState.FAILURE: "Job failed.",
    JobState.ABORTED: "Job aborted.",
    JobState.ERROR: "Job errored.",
}


def status_description(job: ProwJob) -> str:
    """The status description Prow posts: the job's description (or its state's text) and ` BaseSHA:<sha>`.

    As Prow's config.ContextDescriptionWithBaseSha: the suffix is left-padded with U+2001 to 140 characters and a
    long text is elided in the middle so the whole fits.
    """
    text = job.description or _DEFAULT_DESCRIPTIONS[job.state]
    suffix = ""
    if job.refs.base_sha:
        suffix = _BASE_SHA + job.refs.base_sha
        suffix = _PAD * max(0, DESCRIPTION_MAX - len(text) - len(suffix)) + suffix
    return _truncate(text, DESCRIPTION_MAX - len(suffix)) + suffix


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = max(0, (limit - len(_ELIDE)) // 2)
    return text[:half] + _ELIDE + text[len(text) - half :]


_SCHEMA = """
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    job TEXT NOT NULL,
    state TEXT NOT NULL,
    org TEXT NOT NULL,
    repo TEXT NOT NULL,
    base_ref TEXT NOT NULL,
    base_sha TEXT NOT NULL,
    pulls TEXT NOT NULL,
    context TEXT NOT NULL,
    cluster TEXT NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    completed_at REAL,
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    rerun_command TEXT NOT NULL,
    spec TEXT NOT NULL,
    report INTEGER NOT NULL,
    max_concurrency INTEGER NOT NULL
);
CREATE INDEX jobs_by_repo ON jobs (org, repo, state);
CREATE INDEX jobs_by_state ON jobs (state);
CREATE INDEX jobs_by_name ON jobs (job, state);
CREATE TABLE job_pulls (
    job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    number INTEGER NOT NULL,
    PRIMARY KEY (job_id, number)
);
CREATE INDEX job_pulls_by_number ON job_pulls (number);
"""

_COLUMNS = (
    "id, type, job, state, org, repo, base_ref, base_sha, pulls, context, cluster, created_at, started_at, "
    "completed_at, url, description, rerun_command, spec, report, max_concurrency"
)


class JobStore(Database):
    """ProwJobs in SQLite; safe to share between threads and between processes (WAL, immediate transactions)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, _SCHEMA, SCHEMA_VERSION, "job store")

    def create(self, job: ProwJob) -> bool:
        """Store a new job; False (and nothing changed) when a job with this id exists."""
        with self._write() as conn:
            cur = conn.execute(f"INSERT OR IGNORE INTO jobs ({_COLUMNS}) VALUES ({', '.join('?' * 20)})", _row_of(job))
            if cur.rowcount != 1:
                return False
            conn.executemany(
                "INSERT OR IGNORE INTO job_pulls (job_id, number) VALUES (?, ?)",
                [(job.id, pull.number) for pull in job.refs.pulls],
            )
            return True

    def get(self, id: str) -> ProwJob | None:
        with self._lock:
            row = self._conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (id,)).fetchone()
        return _job_of(row) if row else None

    def list(
        self,
        *,
        org: str | None = None,
        repo: str | None = None,
        number: int | None = None,
        job: str | None = None,
        type: JobType | None = None,
        states: Iterable[JobState] | None = None,
    ) -> list[ProwJob]:
        """Jobs matching every given filter (`number`: any of the job's pulls), oldest first."""
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("org", org), ("repo", repo), ("job", job), ("type", type)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(str(value))
        if number is not None:
            where.append("id IN (SELECT job_id FROM job_pulls WHERE number = ?)")
            args.append(number)
        if states is not None:
            wanted = [str(state) for state in states]
            where.append(f"state IN ({', '.join('?' * len(wanted))})" if wanted else "0")
            args.extend(wanted)
        sql = f"SELECT {_COLUMNS} FROM jobs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY created_at, rowid", args).fetchall()
        return [_job_of(row) for row in rows]

    def set_state(
        self,
        id: str,
        state: JobState,
        *,
        description: str | None = None,
        url: str | None = None,
        now: float | None = None,
    ) -> ProwJob:
        """Move a job to `state` (pending stamps started_at, a completed state completed_at) and return it.

        A completed job is returned unchanged. KeyError when no job has this id.
        """
        when = time.time() if now is None else now
        with self._write() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (id,)).fetchone()
            if row is None:
                raise KeyError(id)
            job = _job_of(row)
            if job.state in _COMPLETE:
                return job
            state = JobState(state)
            updated = replace(
                job,
                state=state,
                description=job.description if description is None else description,
                url=job.url if url is None else url,
                started_at=job.started_at if job.started_at is not None or state is JobState.TRIGGERED else when,
                completed_at=when if state in _COMPLETE else None,
            )
            conn.execute(
                "UPDATE jobs SET state = ?, description = ?, url = ?, started_at = ?, completed_at = ? WHERE id = ?",
                (updated.state, updated.description, updated.url, updated.started_at, updated.completed_at, id),
            )
            return updated


def _row_of(job: ProwJob) -> tuple[Any, ...]:
    refs = job.refs
    pulls = [[p.number, p.author, p.sha, p.title, p.head_ref] for p in refs.pulls]
    return (
        job.id, str(JobType(job.type)), job.job, str(JobState(job.state)), refs.org, refs.repo, refs.base_ref,
        refs.base_sha, json.dumps(pulls), job.context, job.cluster, job.created_at, job.started_at,
        job.completed_at, job.url, job.description, job.rerun_command, json.dumps(dict(job.spec)), int(job.report),
        job.max_concurrency,
    )  # fmt: skip


def _job_of(row: tuple[Any, ...]) -> ProwJob:
    (id_, type_, name, state, org, repo, base_ref, base_sha, pulls, context, cluster, created_at, started_at,
     completed_at, url, description, rerun_command, spec, report, max_concurrency) = row  # fmt: skip
    return ProwJob(
        id=id_,
        type=JobType(type_),
        job=name,
        state=JobState(state),
        refs=Refs(org, repo, base_ref, base_sha, tuple(Pull(*p) for p in json.loads(pulls))),
        context=context,
        cluster=cluster,
        created_at=created_at,
        started_at=started_at,
        completed_at=completed_at,
        url=url,
        description=description,
        rerun_command=rerun_command,
        spec=json.loads(spec),
        report=bool(report),
        max_concurrency=max_concurrency,
    )
