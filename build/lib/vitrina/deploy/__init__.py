"""Deployment files from one description: a `Topology` (single node, or a ClickHouse cluster of
shards x replicas with Keeper) renders the compose file, the ClickHouse and Keeper configs,
Prometheus, Alertmanager and Grafana provisioning, and the Dockerfile (`vitrina deploy render`)."""
