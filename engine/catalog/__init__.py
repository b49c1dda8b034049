"""The SQLite catalog (SQLAlchemy 2.0 ORM): the source of truth for figures, articles and vectors. No torch."""
