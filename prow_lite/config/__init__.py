"""prow_lite's configuration: config.yaml, the job configs and plugins.yaml, loaded, validated and reloaded.

Keys follow Prow's (pkg/config, pkg/plugins); every validation error names the file and the key path.
"""

from __future__ import annotations

from prow_lite.config.agent import ConfigAgent, Snapshot
from prow_lite.config.cron import CronSchedule, parse_cron
from prow_lite.config.errors import ConfigError
from prow_lite.config.goduration import parse_duration
from prow_lite.config.jobs import (
    DEFAULT_CLUSTER,
    JobBase,
    Periodic,
    Postsubmit,
    Presubmit,
    default_rerun_command,
    default_trigger,
)
from prow_lite.config.load import load_config
from prow_lite.config.plugins import (
    Approve,
    ExternalPlugin,
    Label,
    Lgtm,
    OrgPlugins,
    Owners,
    OwnersFilenames,
    PluginsConfig,
    RestrictedLabel,
    Trigger,
)
from prow_lite.config.pluginsfile import load_plugins
from prow_lite.config.prow import Config, GitHubReporter, Plank

__all__ = [
    "DEFAULT_CLUSTER",
    "Approve",
    "Config",
    "ConfigAgent",
    "ConfigError",
    "CronSchedule",
    "ExternalPlugin",
    "GitHubReporter",
    "JobBase",
    "Label",
    "Lgtm",
    "OrgPlugins",
    "Owners",
    "OwnersFilenames",
    "Periodic",
    "Plank",
    "PluginsConfig",
    "Postsubmit",
    "Presubmit",
    "RestrictedLabel",
    "Snapshot",
    "Trigger",
    "default_rerun_command",
    "default_trigger",
    "load_config",
    "load_plugins",
    "parse_cron",
    "parse_duration",
]
