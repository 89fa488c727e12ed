"""The token-budget benchmark suite behind `python -m benchmarks`.

- `scale`: workload sizes and pacing (full, quick, tiny);
- `workloads`: the workloads as plans generated from a seed (no I/O);
- `stack`: ghsim, ghproxy and Redis processes for one run, and each mode's flags;
- `client`: the load generator's timed HTTP client; `timeline`: pacing and ghsim's data changes;
- `prow`: what Prow's components read; `apps`: GitHub App components with rotating tokens;
- `runner`: one workload in one mode, from a fresh stack to ghsim's accounting;
- `report`: the Markdown table, the JSON document and the chart.
"""
