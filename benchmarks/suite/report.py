"""Results of the suite and how they are shown: the Markdown table, the JSON document and the PNG chart."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.suite.scale import Scale


@dataclass(frozen=True, slots=True)
class RunResult:
    """One workload in one mode: ghsim's accounting and what the clients saw."""

    workload: str
    mode: str
    summary: str
    # ghsim's ledger, over the tokens that read and write (users and installation tokens)
    charged: int
    free_304: int
    secondary_limited: int
    primary_limited: int
    upstream_requests: int
    # the lower bound: distinct representations answered 200 (ghsim) plus the workload's writes, which every mode
    # must send once
    distinct: int
    writes: int
    # GitHub App side, charged to the app's own budget (JWT requests): installation tokens minted, JWT requests
    mints: int
    app_charged: int
    # the clients' side
    requests: int
    failed: int
    seconds: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int] = field(default_factory=dict)
    cache_modes: dict[str, int] = field(default_factory=dict)

    @property
    def lower_bound(self) -> int:
        return self.distinct + self.writes

    @property
    def ratio(self) -> float:
        return self.charged / self.lower_bound if self.lower_bound else math.nan

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.seconds if self.seconds else math.nan

    def as_json(self) -> dict[str, Any]:
        doc = asdict(self)
        doc |= {"lower_bound": self.lower_bound, "ratio": self.ratio, "requests_per_s": self.requests_per_s}
        return doc


def _ratio(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.2f}x"


def _versus(results: Sequence[RunResult], workload: str) -> str:
    """compat's tokens over full's, for one workload, when both ran."""
    by_mode = {r.mode: r for r in results if r.workload == workload}
    compat, full = by_mode.get("compat"), by_mode.get("full")
    if compat is None or full is None or not full.charged:
        return ""
    return f"{compat.charged / full.charged:.2f}x"


def markdown(results: Sequence[RunResult], info: dict[str, str], scale: Scale, seed: int, wall_s: float) -> str:
    limits = (
        "GitHub's limits" if scale.speed == 1 else f"GitHub's limits and the workloads' pacing {scale.speed:g}x faster"
    )
    lines = [
        f"Measured {info['date']} on {info['cores']} cores ({info['cpu']}), Python {info['python']}; "
        f"`{scale.name}` scale, seed {seed}, {limits}; load generator, ghsim and ghproxy share the machine; "
        f"whole run {wall_s:.0f} s.",
        "",
        "| workload | mode | tokens charged | lower bound | x lower bound | compat / full | free 304s | "
        "secondary-limit hits | failed requests | mints | p50 / p99 latency | requests/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    for r in results:
        versus = _versus(results, r.workload) if r.mode == "full" else ""
        lines.append(
            f"| {r.workload} | {r.mode} | {r.charged:,} | {r.lower_bound:,} | {_ratio(r.ratio)} | {versus} | "
            f"{r.free_304:,} | {r.secondary_limited:,} | {r.failed:,} | {r.mints:,} | "
            f"{r.p50_ms:.1f} / {r.p99_ms:.1f} ms | {r.requests_per_s:,.0f} |"
        )
    lines += [
        "",
        "Tokens charged: requests ghsim charged to the reading and writing tokens (users, installation tokens). "
        "Lower bound: the distinct representations (path and body) ghsim answered 200, plus the workload's writes. "
        "Mints: installation tokens minted (charged to the app's own JWT budget, not in tokens charged). "
        "Failed: answers of 400 or more seen by the clients (secondary-limit refusals, throttle refusals).",
    ]
    return "\n".join(lines) + "\n"


def document(results: Sequence[RunResult], info: dict[str, str], scale: Scale, seed: int, wall_s: float) -> str:
    doc = {
        "machine": info,
        "scale": asdict(scale),
        "seed": seed,
        "seconds": wall_s,
        "results": [r.as_json() for r in results],
    }
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def _bars(ax: Any, results: Sequence[RunResult], value: Callable[[RunResult], float], fmt: str) -> None:
    """Grouped bars: one group per workload, one bar per mode."""
    workloads = list(dict.fromkeys(r.workload for r in results))
    modes = list(dict.fromkeys(r.mode for r in results))
    width = 0.8 / max(1, len(modes))
    for i, mode in enumerate(modes):
        xs, ys = [], []
        for j, workload in enumerate(workloads):
            found = [r for r in results if r.workload == workload and r.mode == mode]
            if found and not math.isnan(value(found[0])):
                xs.append(j + (i - (len(modes) - 1) / 2) * width)
                ys.append(value(found[0]))
        bars = ax.bar(xs, ys, width, label=mode)
        ax.bar_label(bars, labels=[fmt.format(y) for y in ys], fontsize=7, padding=2)
    ax.set_xticks(range(len(workloads)), workloads, fontsize=8)


def chart(results: Sequence[RunResult], path: Path, title: str) -> None:
    """Two panels: tokens charged as a multiple of the lower bound, and secondary-limit hits, per workload and mode."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    count = len({r.workload for r in results})
    fig, (tokens, hits) = plt.subplots(1, 2, figsize=(max(9.0, 2.6 * count + 3), 4.4), dpi=120)
    _bars(tokens, results, lambda r: r.ratio, "{:.2f}")
    tokens.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    tokens.set_yscale("log")
    tokens.set_ylabel("tokens charged / lower bound (log)")
    tokens.legend(fontsize=8)
    _bars(hits, results, lambda r: float(r.secondary_limited), "{:.0f}")
    hits.set_yscale("symlog", linthresh=1.0)
    hits.set_ylabel("secondary-limit hits (GitHub's refusals)")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def write(
    results: Sequence[RunResult], out: Path, info: dict[str, str], scale: Scale, seed: int, wall_s: float
) -> list[Path]:
    """Write tokens.md, tokens.json and tokens.png into `out`; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    md, js, png = out / "tokens.md", out / "tokens.json", out / "tokens.png"
    md.write_text(markdown(results, info, scale, seed, wall_s))
    js.write_text(document(results, info, scale, seed, wall_s))
    chart(results, png, f"Token budget, {scale.name} scale, seed {seed} ({info['date']})")
    return [md, js, png]
