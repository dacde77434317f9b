"""The simulated service, without HTTP: one module per concept."""
