"""What the web and the worker share: settings, models, the database, the
embedded services, and the domain rules. Imports neither Flask nor Celery."""
