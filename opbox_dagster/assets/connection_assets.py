"""One subsettable multi-asset per connection: an asset per stream, synced as one dlt source."""

# Dagster inspects the context annotation at runtime, so annotations here are not postponed.

from collections.abc import Iterator

from dagster import AssetExecutionContext, AssetKey, AssetSpec, AssetsDefinition, MaterializeResult, multi_asset

from connectors.registry import connector_class
from opbox_dagster.assets.sync_step import run_sync_step
from opbox_dagster.catalogue import ConnectionEntry
from opbox_dagster.naming import group_name, op_name


def stream_asset_key(entry: ConnectionEntry, stream: str) -> AssetKey:
    return AssetKey([entry.workspace_slug, entry.connection_slug, stream])


def build_connection_assets(entry: ConnectionEntry, destination_kind: str) -> AssetsDefinition:
    connector = connector_class(entry.type)
    group = group_name(entry.workspace_slug, entry.connection_slug)
    specs = [
        AssetSpec(
            key=stream_asset_key(entry, stream.name),
            group_name=group,
            kinds={connector.provider.split()[0].lower(), destination_kind},
            description=f"{stream.name} of {entry.name} ({connector.provider}), table {entry.table(stream.name)}",
            metadata={"opbox/connection_id": entry.connection_id, "table_name": entry.table(stream.name)},
            tags={"opbox/connector": entry.type.lower()},
        )
        for stream in connector.streams
    ]

    @multi_asset(name=op_name(entry.workspace_slug, entry.connection_slug), specs=specs, can_subset=True)
    def sync_connection(context: AssetExecutionContext) -> Iterator[MaterializeResult]:
        yield from run_sync_step(context, entry.connection_id, entry.workspace_id)

    return sync_connection
