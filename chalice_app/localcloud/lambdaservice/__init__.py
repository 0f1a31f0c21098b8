"""A Lambda service with real execution environments, for the local runtime.

Each function runs in its own execution environment: an isolated Python process
(``python -I -S``) whose ``sys.path`` holds only the function's package and the
runtime's boto3/botocore, and whose environment is the function's variables plus
Lambda's reserved ones. The pieces, one responsibility each:

- ``config``: ``FunctionConfig`` (what Lambda knows about one function),
  ``EndpointRoutes`` (where calls made inside it go), ``Invoker`` (the seam the
  gateway and the SQS poller call);
- ``errors``: ``InvocationError``, ``FunctionTimeoutError``, ``InitError``;
- ``runtime``: the cached directory with boto3/botocore at the pinned versions;
- ``routing``: the botocore hook that sends ``*.amazonaws.com`` to the emulated
  region and ``{apiId}.execute-api…`` to the local gateway (loaded by the bootstrap);
- ``bootstrap``: the program inside an environment (init, then one invocation at a time);
- ``environment``: one environment (process, pipes, timeout, its log lines);
- ``service``: ``LambdaService``, environments per function: warm reuse, the
  concurrency cap, START/END/REPORT with ``Init Duration``, idle reaping, ``retire``;
- ``package``: the deployment package of source mode, laid out as ``chalice package`` does;
- ``source``: source mode (``make run``): the functions of ``chalice_app/`` for a stage
  of ``.chalice/config.json``, rebuilt when the code changes.

Deployed mode builds ``FunctionConfig`` from the emulated Lambda API instead of
``source`` and uses the same ``LambdaService``.
"""

from localcloud.lambdaservice.config import EndpointRoutes, FunctionConfig, Invoker
from localcloud.lambdaservice.errors import FunctionTimeoutError, InitError, InvocationError
from localcloud.lambdaservice.routing import API_ID_HEADER, REGION_HEADER
from localcloud.lambdaservice.service import LambdaService
from localcloud.lambdaservice.source import SourceFunctions, SourceProject

__all__ = [
    "API_ID_HEADER",
    "REGION_HEADER",
    "EndpointRoutes",
    "FunctionConfig",
    "FunctionTimeoutError",
    "InitError",
    "InvocationError",
    "Invoker",
    "LambdaService",
    "SourceFunctions",
    "SourceProject",
]
