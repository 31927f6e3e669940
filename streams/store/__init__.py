"""Store agents: apply lifecycle commands to SQL databases through SQLAlchemy (issue 3, in progress)."""
