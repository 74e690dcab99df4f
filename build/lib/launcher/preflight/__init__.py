"""Pre-flight room: read-only checks of the outside world before a launch creates anything."""
