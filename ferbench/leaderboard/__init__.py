"""The leaderboard: our best runs against every published number, with comparability verdicts.

- `_compare`: read our finished runs, match and judge them against the published numbers (one
  `Row` each); `_pool`: those runs pooled by configuration, over seeds;
- `_cache`: the incremental cache of finished runs (and of paired tests) between calls;
- `_render`: the terminal table, markdown / csv / json / html text, and the MLflow leaderboard run;
- `_page`: the self-contained HTML page and the chart; `_cells`: the cell texts they share.
"""

from __future__ import annotations

from ferbench.comparability import CAVEATS, COMPARABLE, NOT_COMPARABLE, Ours  # judged here, so importable here
from ferbench.leaderboard._cache import (
    RunRecord,
    cache_path,
    finished_runs,
    paired_results,
    search,
    search_runs,
    sql_store,
)
from ferbench.leaderboard._cells import (
    LEGEND,
    MARKS,
    VERDICTS,
    all_reasons,
    delta_text,
    fmt,
    metric_label,
    ours_text,
    short_reason,
    short_why,
)
from ferbench.leaderboard._compare import (
    NOTHING_YET,
    RUN_FILTER,
    Row,
    build,
    compare,
    experiment_ids,
    leaderboard,
    paired_verdicts,
    pool,
    search_our_runs,
)
from ferbench.leaderboard._page import chart_png, chart_series, page
from ferbench.leaderboard._render import FORMATS, HEADERS, log_run, print_table, render, table, write_artifacts

__all__ = [
    "CAVEATS",
    "COMPARABLE",
    "NOT_COMPARABLE",
    "Ours",
    "FORMATS",
    "HEADERS",
    "LEGEND",
    "MARKS",
    "NOTHING_YET",
    "RUN_FILTER",
    "Row",
    "RunRecord",
    "VERDICTS",
    "all_reasons",
    "build",
    "cache_path",
    "chart_png",
    "chart_series",
    "compare",
    "delta_text",
    "experiment_ids",
    "finished_runs",
    "fmt",
    "leaderboard",
    "log_run",
    "metric_label",
    "ours_text",
    "page",
    "paired_results",
    "paired_verdicts",
    "pool",
    "print_table",
    "render",
    "search",
    "search_our_runs",
    "search_runs",
    "short_reason",
    "short_why",
    "sql_store",
    "table",
    "write_artifacts",
]
