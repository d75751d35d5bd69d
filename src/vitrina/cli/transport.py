"""`vitrina load --transport kafka|redis` (the loader group), `vitrina ddl schema` and
`vitrina ddl kafka-engine`."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from vitrina.cli.config_file import settings_from
from vitrina.config import ConfigError, Settings, TransportSettings

TransportOpt = Annotated[Optional[str], typer.Option("--transport", help="direct, kafka or redis.")]
KafkaOpt = Annotated[Optional[str], typer.Option("--kafka", help="Kafka bootstrap servers (host:port,...).")]
RedisOpt = Annotated[Optional[str], typer.Option("--redis", help="Redis URL (redis://host:port/db).")]
LoadersOpt = Annotated[Optional[int], typer.Option("--loaders", help="Loader members in this process.")]
ClusterOpt = Annotated[
    Optional[str], typer.Option("--cluster", help="Lay the tables out for this ClickHouse cluster (default: [warehouse] cluster).")
]


def with_transport(
    settings: Settings,
    kind: str | None = None,
    kafka: str | None = None,
    redis_url: str | None = None,
    loaders: int | None = None,
    loader: bool | None = None,
) -> Settings:
    """Apply the transport flags; `--kafka URL` alone implies `--transport kafka`."""
    t = settings.transport
    if kind is None:
        kind = "kafka" if kafka else "redis" if redis_url else None
    over: dict[str, Any] = {"kind": kind, "kafka": kafka, "redis": redis_url, "loaders": loaders, "loader": loader}
    try:
        new: TransportSettings = replace(t, **{k: v for k, v in over.items() if v is not None})
    except ConfigError as exc:
        raise typer.BadParameter(str(exc)) from None
    return replace(settings, transport=new)


def register(app: typer.Typer) -> None:
    ddl = typer.Typer(help="Print ClickHouse DDL for server deployments.", no_args_is_help=True)
    app.add_typer(ddl, name="ddl")

    @ddl.command("schema")
    def schema(
        config: Annotated[Optional[Path], typer.Option("--config", "-c", help="TOML settings file.")] = None,
        cluster: ClusterOpt = None,
    ) -> None:
        """Every statement of vitrina's schema, in order, each ending with `;` (for a DBA to review or apply)."""
        from vitrina.models.runner import model_tables
        from vitrina.models.spec import builtin_models
        from vitrina.warehouse.schema import schema_statements

        settings = _load(config)
        policy = _policy(settings, cluster)
        statements = schema_statements(policy, settings.streams.values(), settings.retention)
        statements += model_tables(builtin_models(), policy, settings.models)
        where = f"cluster {policy.cluster}" if policy.cluster else "one server"
        typer.echo(f"-- vitrina schema of database {settings.database} on {where}: what vitrina itself creates, in order.\n")
        typer.echo("\n\n".join(sql + ";" for sql in statements))

    @ddl.command("kafka-engine")
    def kafka_engine(
        config: Annotated[Optional[Path], typer.Option("--config", "-c", help="TOML settings file.")] = None,
        kafka: KafkaOpt = None,
        group: Annotated[str, typer.Option(help="The Kafka consumer group ClickHouse joins.")] = "vitrina-clickhouse",
        cluster: ClusterOpt = None,
    ) -> None:
        """Kafka-engine tables and materialized views (at-least-once; see the caveat printed)."""
        from vitrina.warehouse.kafka_engine import kafka_engine_ddl

        settings = with_transport(_load(config), "kafka", kafka)
        policy = _policy(settings, cluster)
        typer.echo(kafka_engine_ddl(settings.transport, settings.streams, settings.database, group, policy))

    @app.command()
    def load(
        transport: TransportOpt = None,
        kafka: KafkaOpt = None,
        redis: RedisOpt = None,
        loaders: LoadersOpt = None,
        data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Data folder (its own, for chdb).")] = None,
        config: Annotated[Optional[Path], typer.Option("--config", "-c", help="TOML settings file.")] = None,
        host: Annotated[str, typer.Option(help="Address of /healthz, /readyz and /metrics.")] = "127.0.0.1",
        port: Annotated[Optional[int], typer.Option(help="Serve /healthz, /readyz and /metrics on this port.")] = None,
        metrics_port: Annotated[Optional[int], typer.Option(help="The old name of --port.", hidden=True)] = None,
    ) -> None:
        """Run a loader group: read the log, validate, insert exactly-once, commit. Any number
        of `vitrina load` processes share the group."""
        from vitrina.roles.load import run_load

        settings = with_transport(_load(config).with_overrides(data_dir=data_dir), transport, kafka, redis, loaders)
        if settings.transport.kind == "direct":
            raise typer.BadParameter("choose --transport kafka or redis (direct needs no loader)")
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        run_load(settings, host, port if port is not None else metrics_port)


def _policy(settings: Settings, cluster: str | None) -> Any:
    from vitrina.warehouse.cluster import policy_for

    try:
        return policy_for(settings.database, cluster or settings.warehouse.cluster)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _load(config: Path | None) -> Settings:
    return settings_from(config)
