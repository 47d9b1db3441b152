"""The local TixVibe stack for operators and contributors."""
