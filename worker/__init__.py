"""The Code Generator's processes: the Celery app, its tasks and the beat
schedule. Tasks are thin: they unpack an id and call shared/."""
