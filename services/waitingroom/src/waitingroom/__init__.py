"""The waiting room: a fair queue in front of a scheduled on-sale (docs/waiting-room.md)."""
