"""Metrics, `latlas eval`, dashboards, renders along camera paths."""
