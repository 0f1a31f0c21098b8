"""One AWS region of the deployed mode: what was deployed into it, served as Lambda would.

The emulated endpoint (one moto server) holds every region, as AWS's regions sit side by
side: a function, WebSocket API or event source mapping lives in the region it was
created in. ``ServedRegion`` serves one of them: its own snapshot (``localcloud.region``
read with that region's clients), its Lambda service (environments get ``AWS_REGION`` of
that region), its function logs (also shipped to that region's CloudWatch Logs) and the
SQS pollers of its mappings. ``localcloud.cloud.CloudRegion`` keeps one per region the
endpoint reports something deployed in, and routes each WebSocket API to its region.
"""

import asyncio
import os
from typing import Any, Callable, Dict, List, Optional

import boto3

from localcloud import region
from localcloud.cloudlogs import ShippedLogs
from localcloud.lambdaservice import EndpointRoutes, FunctionConfig, InvocationError, LambdaService
from localcloud.poller import PollerConfig, SqsPoller

__all__ = ["RegionSettings", "ServedRegion", "DeployedFunctions", "DEFAULT_POLLERS", "client_factory"]

DEFAULT_POLLERS = 4


def client_factory(region_name: str, endpoint: str) -> Callable[[str], Any]:
    """``client(service)``: one cached client per service of one region of the endpoint, with the
    tooling's own (unchecked) keys."""
    clients: Dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = boto3.client(
                service,
                region_name=region_name,
                endpoint_url=endpoint,
                aws_access_key_id="testing",
                aws_secret_access_key="testing",
            )
        return clients[service]

    return client


class RegionSettings:
    """What every served region shares: the endpoint, the edge, limits, the role sessions."""

    def __init__(self, options: Any, aws_endpoint: str, edge_url: str, code_cache: str, credentials_for: Callable):
        self.options = options
        self.aws_endpoint = aws_endpoint
        self.edge_url = edge_url
        self.code_cache = code_cache
        self.credentials_for = credentials_for

    def log_dir(self, name: str) -> str:
        """The home region's logs in the log folder itself, any other region's in a subfolder named after it."""
        return self.options.log_dir if name == self.options.region else os.path.join(self.options.log_dir, name)


class DeployedFunctions:
    """The ``invoke(name, event)`` that the gateway and the pollers call, over one region's functions.

    For a WebSocket API it picks the function by the event's route key (its apigatewayv2
    route and integration); for an event source mapping by the mapping's function, and
    drops ``batchItemFailures`` when the mapping does not report them (Lambda then
    treats the batch as a success).
    """

    def __init__(
        self, served: "ServedRegion", api_id: Optional[str] = None, source: Optional[region.EventSource] = None
    ):
        self.served = served
        self.api_id = api_id
        self.source = source

    def invoke(self, name: str, event: Dict[str, Any]) -> Any:
        snapshot = self.served.snapshot
        if self.api_id is not None:
            api = snapshot.apis.get(self.api_id)
            route_key = event.get("requestContext", {}).get("routeKey", "")
            name = (api.routes if api else {}).get(route_key, "")
            if not name:
                raise InvocationError(f"API {self.api_id} has no integration for route {route_key}")
        fields = snapshot.functions.get(name)
        if fields is None:
            raise InvocationError(f"Function not found in {self.served.name}: {name}")
        result = self.served.service.invoke(FunctionConfig(**fields), event)
        if self.source is not None and not self.source.report_batch_item_failures:
            return None
        return result


class ServedRegion:
    def __init__(self, name: str, settings: RegionSettings):
        self.name = name
        self.settings = settings
        options = settings.options
        self.client = client_factory(name, settings.aws_endpoint)
        self.logs = ShippedLogs(settings.log_dir(name), self.client, verbose=options.verbose)
        self.service = LambdaService(
            self.logs,
            EndpointRoutes(aws_endpoint=settings.aws_endpoint, execute_api=settings.edge_url, region=name),
            settings.credentials_for,
            concurrency=options.concurrency,
            idle_seconds=options.idle_seconds,
            max_environments=options.max_environments,
        )
        self.snapshot = region.Snapshot()
        self.pollers: Dict[str, SqsPoller] = {}

    async def refresh(self) -> List[region.WebSocketApi]:
        """Read the region and serve what it says now; the WebSocket APIs it has (with a stage)."""
        snapshot = await asyncio.to_thread(
            region.read_region, self.client, self.settings.aws_endpoint, self.settings.code_cache
        )
        previous, self.snapshot = self.snapshot, snapshot
        for name, fields in snapshot.functions.items():
            if previous.functions.get(name, {}).get("version") == fields["version"]:
                continue
            if name in previous.functions:
                self.service.retire(name)
            print(f"function {name}: version {fields['version']} deployed in {self.name}", flush=True)
        await asyncio.to_thread(self._reconcile_pollers, snapshot)
        return [api for api in snapshot.apis.values() if api.stages]

    def _reconcile_pollers(self, snapshot: region.Snapshot) -> None:
        for uuid in list(self.pollers):
            source = snapshot.sources.get(uuid)
            poller = self.pollers[uuid]
            if source is None or not source.enabled or poller.host.source != source:
                poller.stop()
                del self.pollers[uuid]
                print(f"event source {uuid} ({self.name}): stopped", flush=True)
        for uuid, source in snapshot.sources.items():
            if uuid not in self.pollers and source.enabled and source.function_name in snapshot.functions:
                self._start_poller(source)

    def _start_poller(self, source: region.EventSource) -> None:
        _, _, _, region_name, account, queue = source.queue_arn.split(":")
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=queue, QueueOwnerAWSAccountId=account)["QueueUrl"]
        config = PollerConfig(
            function_name=source.function_name,
            queue_url=url,
            queue_arn=source.queue_arn,
            region=region_name,
            batch_size=source.batch_size,
            batching_window_seconds=source.batching_window_seconds,
            concurrency=min(source.maximum_concurrency or DEFAULT_POLLERS, self.settings.options.concurrency),
        )
        poller = SqsPoller(DeployedFunctions(self, source=source), sqs, config)
        poller.start()
        self.pollers[source.uuid] = poller
        flags = "Enabled" + (f", {region.BATCH_ITEM_FAILURES}" if source.report_batch_item_failures else "")
        print(
            f"event source {source.uuid} ({self.name}): {queue} -> {source.function_name} "
            f"(batch {source.batch_size}, window {source.batching_window_seconds} s, {flags})",
            flush=True,
        )

    def halt(self) -> None:
        for poller in self.pollers.values():
            poller.halt()

    def stop_pollers(self) -> None:
        for poller in self.pollers.values():
            poller.stop()

    def close(self) -> None:
        """After ``stop_pollers``: the environments, then the logs (flushed to CloudWatch Logs)."""
        self.service.close()
        self.logs.close()
