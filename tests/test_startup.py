"""The collector is paused only while a job's libraries load: the task runs with it on, as any program does."""

from __future__ import annotations

import gc

import pytest

from tests.conftest import Project
from train.contract.startup import imports_without_gc


def test_the_pause_freezes_what_was_loaded_and_restores_the_collector() -> None:
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    try:
        with imports_without_gc():
            assert not gc.isenabled()
            made = [[index] for index in range(5000)]  # stands in for what an import creates
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen + len(made)
    finally:
        gc.unfreeze()


def test_the_collector_is_restored_after_a_failed_import_and_left_off_if_it_was_off() -> None:
    try:
        with pytest.raises(ModuleNotFoundError), imports_without_gc():
            import no_such_module_here  # type: ignore[import-not-found]  # noqa: F401
        assert gc.isenabled()
        gc.disable()
        with imports_without_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


GC_TASK = (
    "import gc, weakref\n"
    "class Node:\n"
    "    pass\n"
    "def run(ctx):\n"
    "    collected = []\n"
    "    for index in range(20000):  # cyclic garbage: only the collector frees it\n"
    "        node = Node()\n"
    "        node.self = node\n"
    "        weakref.finalize(node, collected.append, index)\n"
    "    ctx.tracker.log_metrics({'gc_enabled': float(gc.isenabled()), 'frozen': float(gc.get_freeze_count()),\n"
    "                             'collected': float(len(collected))}, step=1)\n"
)


def test_a_tasks_cyclic_garbage_is_collected_while_the_imports_stay_frozen(project: Project) -> None:
    result = project.smlaunch("run", "configs/local.yaml", "--output", "json", *project.task("gc_task", GC_TASK))
    assert result.code == 0, result.stderr
    (run,) = project.runs()
    assert run.data.metrics["gc_enabled"] == 1.0
    assert run.data.metrics["frozen"] > 100_000  # mlflow's and its store's objects, loaded under the pause
    assert run.data.metrics["collected"] > 10_000  # the collector ran on its own during the task
