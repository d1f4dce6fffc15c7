"""The connection layer: accepting, peeking and dispatching connections (see the modules)."""
