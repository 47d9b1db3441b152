"""What every TixVibe service shares: the only implementation of the HTTP and event contracts."""
