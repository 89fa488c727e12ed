"""The job store against real SQLite files: creation once per id, filters, state moves, several processes."""

from __future__ import annotations

import multiprocessing
import multiprocessing.synchronize
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from prow_lite.db import StoreError
from prow_lite.jobs import JobState, JobStore, JobType, ProwJob, Pull, Refs, job_id, status_description, status_state

SHA = "a" * 40
BASE = "b" * 40


def presubmit(name: str = "unit", number: int = 1, *, org: str = "org0", created_at: float = 100.0) -> ProwJob:
    pull = Pull(number, "alice", SHA, title="Fix it", head_ref="fix")
    return ProwJob(
        id=job_id(org, "repo0", str(number), SHA, name),
        type=JobType.PRESUBMIT,
        job=name,
        state=JobState.TRIGGERED,
        refs=Refs(org, "repo0", "main", BASE, (pull,)),
        context=f"ci/{name}",
        created_at=created_at,
        rerun_command=f"/test {name}",
        spec={"command": ["make", name], "env": {"A": "1"}},
        max_concurrency=2,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[JobStore]:
    s = JobStore(tmp_path / "jobs.db")
    yield s
    s.close()


def test_job_id_is_deterministic_and_separates_parts() -> None:
    assert job_id("org0", "repo0", "1", SHA, "unit") == job_id("org0", "repo0", "1", SHA, "unit")
    assert job_id("org0", "repo0", "1", SHA, "unit") != job_id("org0", "repo0", "1", SHA, "lint")
    assert job_id("ab", "c") != job_id("a", "bc")
    with pytest.raises(ValueError):
        job_id()


def test_create_round_trips_every_field_and_refuses_a_second_time(store: JobStore) -> None:
    job = presubmit()
    assert store.create(job) is True
    assert store.get(job.id) == job
    later = replace(job, description="other")
    assert store.create(later) is False
    assert store.get(job.id) == job
    assert store.get("nope") is None


def test_periodic_and_batch_refs(store: JobStore) -> None:
    periodic = ProwJob(
        job_id("periodic", "nightly", "1"), JobType.PERIODIC, "nightly", JobState.TRIGGERED, Refs("", "", "", "")
    )
    pulls = (Pull(1, "alice", SHA), Pull(2, "bob", "c" * 40))
    batch = ProwJob(
        job_id("batch", "1", "2"), JobType.BATCH, "unit", JobState.TRIGGERED, Refs("org0", "repo0", "main", BASE, pulls)
    )
    assert store.create(periodic) and store.create(batch)
    assert store.get(periodic.id) == periodic
    assert store.get(batch.id) == batch
    assert [j.id for j in store.list(number=2)] == [batch.id]
    assert [j.id for j in store.list(type=JobType.PERIODIC)] == [periodic.id]


def test_list_filters(store: JobStore) -> None:
    a = presubmit("unit", 1, created_at=1)
    b = presubmit("lint", 1, created_at=2)
    c = presubmit("unit", 2, created_at=3)
    d = presubmit("unit", 1, org="org1", created_at=4)
    for job in (d, c, b, a):
        store.create(job)
    store.set_state(c.id, JobState.PENDING, now=10)
    ids = lambda jobs: [j.id for j in jobs]  # noqa: E731
    assert ids(store.list()) == [a.id, b.id, c.id, d.id]
    assert ids(store.list(org="org0", repo="repo0", number=1)) == [a.id, b.id]
    assert ids(store.list(job="unit")) == [a.id, c.id, d.id]
    assert ids(store.list(states=[JobState.PENDING])) == [c.id]
    assert ids(store.list(states=[JobState.TRIGGERED, JobState.PENDING], org="org1")) == [d.id]
    assert store.list(states=[]) == []
    assert ids(store.list(type=JobType.PRESUBMIT, repo="repo0", number=2)) == [c.id]


def test_set_state_stamps_times_and_keeps_a_completed_job(store: JobStore) -> None:
    job = presubmit()
    store.create(job)
    pending = store.set_state(job.id, JobState.PENDING, url="http://ci/1", now=200)
    assert (pending.state, pending.started_at, pending.completed_at, pending.url) == (
        "pending",
        200,
        None,
        "http://ci/1",
    )
    assert pending.description == ""
    done = store.set_state(job.id, JobState.SUCCESS, description="Job succeeded.", now=300)
    assert (done.started_at, done.completed_at, done.description, done.url) == (
        200,
        300,
        "Job succeeded.",
        "http://ci/1",
    )
    assert store.get(job.id) == done
    late = store.set_state(job.id, JobState.ABORTED, description="Aborted by trigger plugin.", now=400)
    assert late == done
    with pytest.raises(KeyError):
        store.set_state("missing", JobState.PENDING)


def test_a_job_completed_straight_from_triggered_is_stamped(store: JobStore) -> None:
    job = presubmit()
    store.create(job)
    aborted = store.set_state(job.id, JobState.ABORTED, now=5)
    assert (aborted.started_at, aborted.completed_at) == (5, 5)


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (JobState.TRIGGERED, "pending"),
        (JobState.PENDING, "pending"),
        (JobState.SUCCESS, "success"),
        (JobState.FAILURE, "failure"),
        (JobState.ABORTED, "failure"),
        (JobState.ERROR, "error"),
    ],
)
def test_status_state_is_crier_mapping(state: JobState, expected: str) -> None:
    assert status_state(state) == expected


def test_status_description_carries_the_base_sha_in_140_characters() -> None:
    job = presubmit()
    text = status_description(job)
    assert len(text) == 140
    assert text.startswith("Job triggered.\u2001")
    assert text.split(" BaseSHA:")[1] == BASE
    succeeded = replace(job, state=JobState.SUCCESS)
    assert status_description(succeeded).startswith("Job succeeded.")


def test_status_description_elides_a_long_text_in_the_middle() -> None:
    job = presubmit()
    long = replace(job, description="x" * 60 + "y" * 100)
    text = status_description(long)
    assert len(text) <= 140
    head, sha = text.split(" BaseSHA:")
    assert sha == BASE
    assert head.startswith("x" * 20) and head.endswith("y" * 20) and " ... " in head
    no_base = replace(job, refs=Refs("", "", "", ""))
    assert status_description(no_base) == "Job triggered."


def test_reopening_keeps_jobs_and_refuses_another_schema(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    first = JobStore(path)
    first.create(presubmit())
    first.close()
    again = JobStore(path)
    assert len(again.list()) == 1
    again.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(StoreError, match="schema version 99"):
        JobStore(path)
    (tmp_path / "junk.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"junk\.db"):
        JobStore(tmp_path / "junk.db")


def _create_many(path: str, worker: int, barrier: multiprocessing.synchronize.Barrier) -> None:
    store = JobStore(path)
    barrier.wait()
    for i in range(50):
        # every worker creates the same 50 jobs; each id must be created exactly once overall
        job = presubmit(f"job{i}")
        if store.create(job):
            store.set_state(job.id, JobState.PENDING, description=f"worker {worker}")
    store.close()


def test_several_processes_share_one_store(tmp_path: Path) -> None:
    path = str(tmp_path / "jobs.db")
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(4)
    procs = [ctx.Process(target=_create_many, args=(path, w, barrier)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    store = JobStore(path)
    jobs = store.list()
    store.close()
    assert len(jobs) == 50
    assert all(j.state is JobState.PENDING and j.description.startswith("worker ") for j in jobs)
