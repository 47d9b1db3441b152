"""TixVibe tickets service: what is for sale, and who has reserved it."""
