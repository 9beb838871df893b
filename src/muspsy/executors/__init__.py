"""Executors run a run's arcs: `local` (asyncio in this process, the default) and `ray`
(async Ray actors sharing a Postgres checkpointer). The runner plans the arcs and keeps their
ledger; an executor only runs graphs and reports back through an `ArcSink`."""
