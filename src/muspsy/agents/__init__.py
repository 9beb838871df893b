"""The agent roles and what they share: the client (simulation side of the one-way mirror),
the counselor and the clinical supervisor (role `supervisor`, counselor side)."""
