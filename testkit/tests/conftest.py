"""The test kit's own tests use nothing beyond the plugin it registers."""
