"""The three agent roles (client, counselor, supervisor) and what they share."""
