"""LangGraph graphs: the arc graph (one client's course) and its session subgraph."""
