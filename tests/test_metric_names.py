"""A metric name MLflow refuses never costs the others: it is dropped, said once (on the launcher's output and
as a run tag), and every later point arrives; a point the tracker itself refuses (a 400) is found in its batch
and dropped alone, never retried forever."""

from __future__ import annotations

import json

from tests.conftest import Project
from tests.faults import FORWARD, Action, FaultProxy, Request, status

TASK = """
def run(ctx):
    ctx.tracker.log_metrics({"{bad}": 1.0}, step=0)
    for epoch in range(1, 21):
        ctx.tracker.log_metrics({"loss": 1.0 / epoch, "acc": epoch / 20, "{late}": 2.0}, step=epoch)
"""


def launch(project: Project, bad: str, late: str, tracking: str | None = None) -> tuple[int, dict, str]:
    extra = ["--set", f"tracking.uri={tracking}"] if tracking else []
    result = project.smlaunch("run", "configs/local.yaml", "--output", "json",
                              *project.task("named", TASK.replace("{bad}", bad).replace("{late}", late)), *extra)
    return result.code, result.json() if result.stdout.strip() else {}, result.stderr


def test_a_name_mlflow_refuses_is_dropped_and_every_other_point_arrives(project: Project) -> None:
    from mlflow import MlflowClient

    code, report, stderr = launch(project, "loss/", "a/../b")
    assert code == 0, stderr[-3000:]
    client = MlflowClient(tracking_uri=project.tracking_uri)
    run = client.get_run(report["run_id"])
    assert run.info.status == "FINISHED"
    for metric in ("loss", "acc"):
        assert [m.step for m in client.get_metric_history(report["run_id"], metric)] == list(range(1, 21))
    assert set(run.data.metrics) == {"loss", "acc"}
    assert run.data.tags["launcher.dropped_metrics"] == "a/../b, loss/"
    said = [line for line in stderr.splitlines() if "is not recorded" in line]
    assert len(said) == 2 and "'loss/'" in said[0] and "'a/../b'" in said[1]  # once each, not per step


def test_a_point_the_tracker_refuses_is_found_in_its_batch_and_dropped_alone(project: Project,
                                                                             mlflow_url: str) -> None:
    """The server answers 400 for any batch holding `refused_by_server` (a name our rules let through): the
    sender splits the batch down to that point; nothing is retried forever and the rest is recorded."""
    from mlflow import MlflowClient

    refusals: list[int] = []

    def refuse(request: Request) -> Action:
        metrics = json.loads(request.body or b"{}").get("metrics", []) if request.path.endswith("/runs/log-batch") \
            else []
        if any(metric["key"] == "refused_by_server" for metric in metrics):
            refusals.append(request.number)
            return status(400, json.dumps({"error_code": "INVALID_PARAMETER_VALUE",
                                           "message": "refused_by_server is not welcome"}).encode())
        return FORWARD

    with FaultProxy(mlflow_url, refuse) as proxy:
        code, report, stderr = launch(project, "ok_name", "refused_by_server", proxy.url)
    assert code == 0, stderr[-3000:]
    client = MlflowClient(tracking_uri=mlflow_url)
    run = client.get_run(report["run_id"])
    assert run.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(report["run_id"], "loss")] == list(range(1, 21))
    assert [m.step for m in client.get_metric_history(report["run_id"], "ok_name")] == [0]
    assert "refused_by_server" not in run.data.metrics
    assert run.data.tags["launcher.dropped_metrics"] == "refused_by_server"
    assert 2 <= len(refusals) <= 60  # split and found; not retried over and over
