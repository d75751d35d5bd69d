"""Dashboards: panels declared once (panels.py, builtin.py), drawn by the built-in live page
(service.py, static/) and exported as Grafana provisioning (grafana.py). See docs/DASHBOARDS.md."""
