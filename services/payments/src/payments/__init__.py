"""TixVibe payments service: card payments through Stripe, never twice, refunded if too late."""
