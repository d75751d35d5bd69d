"""The API's routes, one router per concern: operations (health, readiness, flush, metrics),
SQL, streams, rollups and the API docs. The services add their own (models, alerts, reports,
dashboards: serve/services.py). Each handler is a module-level function that takes the running
pipeline as a dependency (deps.py)."""
