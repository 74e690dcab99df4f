"""Validate a SageMaker request (CreateTrainingJob, CreateHyperParameterTuningJob) against botocore's own
service model (types, required members, minimums), before it is sent or printed by --dry-run."""

from __future__ import annotations

from typing import Any

from launcher.cloud.aws import Aws, AwsError


def check_request(request: dict[str, Any], aws: Aws | None = None, operation: str = "CreateTrainingJob") -> None:
    """Validate a request for `operation` against botocore's own service model (types, required, minimums).

    With `aws`, the model its SageMaker client already loaded is reused (parsing it costs ~0.1 s).
    """
    from botocore.validate import ParamValidator

    if aws is not None:
        model = aws.client("sagemaker").meta.service_model
    else:
        import botocore.session

        model = botocore.session.get_session().get_service_model("sagemaker")
    report = ParamValidator().validate(request, model.operation_model(operation).input_shape)
    if report.has_errors():
        raise AwsError(f"the request does not match SageMaker's API:\n{report.generate_report()}")
