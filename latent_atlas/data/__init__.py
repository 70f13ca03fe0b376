"""Scene data: format parsers, in-memory scenes, pixel samplers and synthetic scene families."""
