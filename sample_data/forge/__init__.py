"""The deterministic forge: EVTX and regf writers, scenario bundles."""
