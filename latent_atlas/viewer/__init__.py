"""The live viser viewer: `latlas view --run RUN` and `latlas train ... --viewer` (an engine callback)."""
