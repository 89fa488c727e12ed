"""prow_lite: a lean Prow (hook, plugins, job store) whose GitHub client talks only to ghproxy."""
