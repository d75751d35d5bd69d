"""vitrina's roles as separate processes: `vitrina api` (intake and reads, N workers on one
port), `vitrina load` (the loader group) and `vitrina schedule` (models, alerts and reports,
one active at a time): docs/DEPLOYMENT.md."""
