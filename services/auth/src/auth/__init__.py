"""TixVibe auth service: accounts and sessions."""
