"""Performance measurements of Aprova on loopback; see README, Performance."""
