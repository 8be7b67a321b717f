"""The gradient-flow analysis: symbolic bounds, measured runs, plots, the report and its chapter."""
