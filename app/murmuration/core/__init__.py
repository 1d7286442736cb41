"""The instance's domain: no transports, no GUI."""
