"""Alerts: rules over figures (SQL evaluated by vitrina, exported as Prometheus gauges), an
evaluator with pending/firing/resolved state kept across restarts, webhook notifications in
the Alertmanager format, and an equivalent Prometheus rules file."""
