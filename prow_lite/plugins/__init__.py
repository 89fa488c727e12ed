"""prow_lite's plugins: one module each, registered in `prow_lite.plugins.base.REGISTRY` when imported."""
