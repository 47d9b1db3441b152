"""TixVibe's web client: server-rendered pages over the platform's HTTP API."""
