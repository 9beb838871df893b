"""`muspsy play`: a person in the counselor's chair (a human chat model and the driver around the arc graph)."""
