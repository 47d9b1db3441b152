"""TixVibe expiration service: the reservation clock."""
