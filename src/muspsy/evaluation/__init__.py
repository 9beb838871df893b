"""Measuring arcs: deterministic fidelity metrics (`metrics`), LLM judges (`rubrics`,
`judges`), `muspsy evaluate` (`evaluate`), and strategy comparisons with tables and plots
(`compare`, `plots`, `report`), over run folders and arcs files (`sources`)."""
