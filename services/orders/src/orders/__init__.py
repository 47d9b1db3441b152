"""TixVibe orders service: reservations, their deadline, and their outcome."""
