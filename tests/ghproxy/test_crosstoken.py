"""Validated cross-token reuse: another token's body is served only when GitHub confirms, free, it is this token's."""

from __future__ import annotations

import json

from multidict import CIMultiDict

from ghproxy import crosstoken
from ghproxy.entry import Entry
from tests.conftest import StartProxy, StartSim
from tests.ghproxy.test_clients import fetch


def test_etag_formula_matches_ghsims_own() -> None:
    from ghsim.etags import etag

    headers = CIMultiDict({"Accept": "application/vnd.github+json", "Authorization": "token b", "Cookie": "c=1"})
    assert crosstoken.etag_for(headers, b'{"x": 1}') == etag(headers, b'{"x": 1}')
    assert crosstoken.etag_for(CIMultiDict({"Authorization": "token b"}), b"") == etag(
        CIMultiDict({"Authorization": "token b"}), b""
    )


def test_candidate_drops_what_belongs_to_the_other_token() -> None:
    indexed = Entry(
        200,
        (
            ("ETag", '"a"'),
            ("X-OAuth-Scopes", "repo"),
            ("X-RateLimit-Remaining", "9"),
            ("Content-Type", "application/json"),
        ),
        b"{}",
        5.0,
    )
    got = crosstoken.candidate(indexed, CIMultiDict({"Authorization": "token b"}))
    assert got is not None
    names = {k.lower() for k, _ in got.headers}
    assert "x-oauth-scopes" not in names and "x-ratelimit-remaining" not in names
    assert got.etag == crosstoken.etag_for(CIMultiDict({"Authorization": "token b"}), b"{}")
    assert crosstoken.candidate(Entry(404, (), b"", 0.0), CIMultiDict()) is None


def test_a_second_token_reads_for_free(start_sim: StartSim, start_proxy: StartProxy) -> None:
    """carol and merge-robot both have write access: GitHub gives them the same pull request body."""
    sim = start_sim()
    proxy = start_proxy(sim.url)
    path = "/repos/org0/repo0/pulls/1"
    assert fetch(proxy.url + path, "sim_carol")[1]["x-cache-mode"] == "MISS"
    status, headers, body = fetch(proxy.url + path, "sim_merge-robot", Accept_Encoding="identity")
    assert (status, headers["x-cache-mode"]) == (200, "REUSED")
    robot = sim.ledger("sim_merge-robot")
    assert (robot["requests"], robot["charged"], robot["free_304"]) == (1, 0, 1)
    _, _, direct = fetch(sim.url + path, "sim_merge-robot", Accept_Encoding="identity")
    assert body == direct.replace(sim.url.encode(), proxy.url.encode())
    assert fetch(proxy.url + path, "sim_merge-robot")[1]["x-cache-mode"] == "REVALIDATED"  # its own entry now


def test_a_token_that_may_not_read_gets_githubs_404(start_sim: StartSim, start_proxy: StartProxy) -> None:
    sim = start_sim()
    proxy = start_proxy(sim.url)
    assert fetch(proxy.url + "/repos/org0/repo2", "sim_alice")[0] == 200  # private; alice may read it
    status, headers, body = fetch(proxy.url + "/repos/org0/repo2", "sim_erin")
    assert (status, headers["x-cache-mode"], json.loads(body)["message"]) == (404, "NO-STORE", "Not Found")


def test_a_token_whose_representation_differs_gets_its_own(start_sim: StartSim, start_proxy: StartProxy) -> None:
    sim = start_sim()
    proxy = start_proxy(sim.url)
    _, _, alice = fetch(proxy.url + "/repos/org0/repo0", "sim_alice")
    status, headers, erin = fetch(proxy.url + "/repos/org0/repo0", "sim_erin")
    assert (status, headers["x-cache-mode"]) == (200, "MISS")  # the computed ETag did not match: a normal fetch
    assert json.loads(alice)["permissions"] != json.loads(erin)["permissions"]
    assert json.loads(erin)["permissions"]["admin"] is False


def test_can_be_turned_off(start_sim: StartSim, start_proxy: StartProxy) -> None:
    sim = start_sim()
    proxy = start_proxy(sim.url, cross_token=False)
    fetch(proxy.url + "/repos/org0/repo0/pulls/1", "sim_alice")
    assert fetch(proxy.url + "/repos/org0/repo0/pulls/1", "sim_bob")[1]["x-cache-mode"] == "MISS"
