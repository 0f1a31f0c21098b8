"""CloudFormation resource types the emulated region adds to moto: the API Gateway v2 WebSocket ones.

moto 5.2.5's CloudFormation creates queues, tables, roles, functions, event source
mappings and permissions, but not ``AWS::ApiGatewayV2::*``: a stack with chalice's
WebSocket API fails on its first such resource. These models create the API, its
integrations, routes, deployment and stage through moto's own apigatewayv2 backend
(the objects ``CreateApi`` etc. make), so the region serves a stack's API as it
serves one ``chalice deploy`` made.

moto finds CloudFormation types as the direct subclasses of ``CloudFormationModel``
(cached): ``register()`` imports this module's classes and clears that cache.
What each model returns for ``Ref`` and ``Fn::GetAtt`` is what AWS documents: the
API id (``ApiEndpoint`` too), the integration id, the route id, the deployment id,
the stage name. ``register`` also makes the roles a stack creates keep their inline
policies as JSON (moto stores ``str(dict)``, which its own IAM evaluator cannot read), and
its tables get their ``TimeToLiveSpecification`` (moto ignores it).
"""

import copy
import json
import time
import uuid
from typing import Any, Dict

from moto.apigatewayv2.models import apigatewayv2_backends
from moto.core.common_models import CloudFormationModel

__all__ = ["register"]


def _api(account_id: str, region: str, api_id: str):
    return apigatewayv2_backends[account_id][region].get_api(api_id)


class _Created:
    """A created resource: its physical id (what ``Ref`` gives) and attributes. Each model derives from
    ``CloudFormationModel`` directly: moto lists only its direct subclasses."""

    type_name = ""
    attributes: Dict[str, str] = {}

    def __init__(self, physical_id: str, attributes: Dict[str, str] = None):
        self.physical_id = physical_id
        self.values = attributes or {}

    @property
    def physical_resource_id(self) -> str:
        return self.physical_id

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return attr in cls.attributes

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        return self.values[attribute_name]

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        return None

    @classmethod
    def update_from_cloudformation_json(
        cls, original_resource, new_resource_name, cloudformation_json, account_id, region_name
    ):
        original_resource.delete(account_id, region_name)
        return cls.create_from_cloudformation_json(new_resource_name, cloudformation_json, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        return None


class WebSocketApi(_Created, CloudFormationModel):
    attributes = {"ApiId": "", "ApiEndpoint": ""}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Api"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "Name"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        properties = cloudformation_json["Properties"]
        api = apigatewayv2_backends[account_id][region_name].create_api(
            api_key_selection_expression=properties.get("ApiKeySelectionExpression"),
            cors_configuration=properties.get("CorsConfiguration"),
            description=properties.get("Description"),
            disable_schema_validation=properties.get("DisableSchemaValidation"),
            disable_execute_api_endpoint=properties.get("DisableExecuteApiEndpoint"),
            name=properties.get("Name", resource_name),
            protocol_type=properties["ProtocolType"],
            route_selection_expression=properties.get("RouteSelectionExpression"),
            tags=properties.get("Tags") or {},
            version=properties.get("Version"),
        )
        made = cls(api.api_id, {"ApiId": api.api_id, "ApiEndpoint": api.api_endpoint})
        made.region = region_name
        return made

    def delete(self, account_id: str, region_name: str) -> None:
        apigatewayv2_backends[account_id][region_name].delete_api(self.physical_id)

    @classmethod
    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        return None  # the stack's delete calls delete() on the made resource


class WebSocketIntegration(_Created, CloudFormationModel):
    attributes = {"IntegrationId": ""}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Integration"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        integration = _api(account_id, region_name, p["ApiId"]).create_integration(
            connection_type=p.get("ConnectionType"),
            description=p.get("Description"),
            integration_method=p.get("IntegrationMethod"),
            integration_type=p["IntegrationType"],
            integration_uri=p.get("IntegrationUri"),
            content_handling_strategy=p.get("ContentHandlingStrategy"),
            credentials_arn=p.get("CredentialsArn"),
            passthrough_behavior=p.get("PassthroughBehavior"),
            payload_format_version=p.get("PayloadFormatVersion"),
            request_parameters=p.get("RequestParameters"),
            request_templates=p.get("RequestTemplates"),
            template_selection_expression=p.get("TemplateSelectionExpression"),
            timeout_in_millis=p.get("TimeoutInMillis"),
        )
        return cls(integration.id, {"IntegrationId": integration.id})


class WebSocketRoute(_Created, CloudFormationModel):
    attributes = {"RouteId": ""}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Route"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        route = _api(account_id, region_name, p["ApiId"]).create_route(
            api_key_required=p.get("ApiKeyRequired", False),
            authorization_scopes=p.get("AuthorizationScopes", []),
            route_key=p["RouteKey"],
            target=p.get("Target"),
            authorization_type=p.get("AuthorizationType"),
            authorizer_id=p.get("AuthorizerId"),
            operation_name=p.get("OperationName"),
            route_response_selection_expression=p.get("RouteResponseSelectionExpression"),
        )
        return cls(route.route_id, {"RouteId": route.route_id})


class WebSocketDeployment(_Created, CloudFormationModel):
    attributes = {"DeploymentId": ""}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Deployment"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        api = _api(account_id, region_name, p["ApiId"])
        deployment = {
            "deploymentId": uuid.uuid4().hex[:10],
            "deploymentStatus": "DEPLOYED",
            "createdDate": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "autoDeployed": False,
        }
        # The list infra.motopatch's GetDeployments answers from.
        if not hasattr(api, "motopatch_deployments"):
            api.motopatch_deployments = []
        api.motopatch_deployments.append(deployment)
        return cls(deployment["deploymentId"], {"DeploymentId": deployment["deploymentId"]})


class WebSocketStage(_Created, CloudFormationModel):
    attributes: Dict[str, str] = {}

    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::ApiGatewayV2::Stage"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "StageName"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        p = cloudformation_json["Properties"]
        config = {"stageName": p["StageName"]}
        for key in ("DeploymentId", "Description", "AutoDeploy", "StageVariables"):
            if key in p:
                config[key[0].lower() + key[1:]] = p[key]
        stage = _api(account_id, region_name, p["ApiId"]).create_stage(config)
        return cls(stage.name)


def _role_policies_as_json() -> None:
    """moto's ``AWS::IAM::Role`` stores each inline policy of ``Policies`` as ``str(dict)``, which
    GetRolePolicy returns and its IAM evaluator cannot read: give it the JSON IAM stores."""
    from moto.iam.models import Role

    original = Role.create_from_cloudformation_json.__func__
    if getattr(original, "localcloud_json", False):
        return

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        cloudformation_json = copy.deepcopy(cloudformation_json)
        for entry in cloudformation_json.get("Properties", {}).get("Policies", []):
            if not isinstance(entry.get("PolicyDocument"), str):
                entry["PolicyDocument"] = json.dumps(entry["PolicyDocument"])
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    create.localcloud_json = True
    Role.create_from_cloudformation_json = classmethod(create)


def _table_ttl() -> None:
    """moto's ``AWS::DynamoDB::Table`` ignores ``TimeToLiveSpecification``: apply it, as CloudFormation does."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table

    original = Table.create_from_cloudformation_json.__func__
    if getattr(original, "localcloud_ttl", False):
        return

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        table = original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)
        ttl = cloudformation_json.get("Properties", {}).get("TimeToLiveSpecification")
        if ttl:
            dynamodb_backends[account_id][region_name].update_time_to_live(table.name, ttl)
        return table

    create.localcloud_ttl = True
    Table.create_from_cloudformation_json = classmethod(create)


def register() -> None:
    """Make moto's CloudFormation see these types (its type list is cached on first use)."""
    from moto.cloudformation import parsing

    for cached in (parsing.get_model_list, parsing.get_model_map, parsing.get_name_type_map):
        cached.cache_clear()
    _role_policies_as_json()
    _table_ttl()
