"""The club's service layer: repositories, dependencies and handlers."""
