"""The verbs about the project: `schema` (and the configuration reference), `new-task`."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command()
@click.option("--markdown", is_flag=True, help="Render the configuration reference (docs/configuration.md).")
@click.option("--task", "task", default=None, metavar="MODULE:FUNCTION",
              help="With `training`: the schema composed with this task's own fields.")
@click.option("--write-tasks", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Write DIR/<task>.schema.json (composed) for every task under ./train (editors read them).")
@click.argument("kind", type=click.Choice(["job", "training", "sweep"]), required=False)
def schema(markdown: bool, task: str | None, write_tasks: Path | None, kind: str | None) -> None:
    """Print a config JSON Schema (job, training with --task, sweep), or with --markdown the whole reference."""
    from launcher.config.reference import composed_task_schemas, render_markdown

    train_dir = Path.cwd() / "train"
    if markdown:
        click.echo(render_markdown(train_dir), nl=False)
        return
    if write_tasks is not None:
        write_tasks.mkdir(parents=True, exist_ok=True)
        for name, text in composed_task_schemas(train_dir).items():
            (write_tasks / f"{name}.schema.json").write_text(text, encoding="utf-8")
            click.echo(f"wrote {write_tasks / name}.schema.json", err=True)
        return
    from launcher.config.tasks import compose, find_task, import_roots, load_task_schema
    from launcher.config.validation import JOB_SCHEMA, SWEEP_SCHEMA, TRAINING_SCHEMA, load_schema

    if kind == "sweep":
        click.echo(json.dumps(load_schema(SWEEP_SCHEMA), indent=2))
        return
    if kind != "training":
        click.echo(json.dumps(load_schema(JOB_SCHEMA), indent=2))
        return
    found = find_task(task, import_roots((train_dir,), None)) if task else None
    if task and (found is None or found.schema_file is None):
        raise click.UsageError(f"no config.schema.json found beside the module of {task}")
    extra = load_task_schema(found.schema_file) if found and found.schema_file else {}
    click.echo(json.dumps(compose(load_schema(TRAINING_SCHEMA), extra), indent=2))


@click.command("new-task")
@click.argument("name")
def new_task(name: str) -> None:
    """Scaffold task NAME: train/NAME/ (code, schema, test) and configs that run green at once."""
    from launcher.commands.new_task import next_step, scaffold

    written = scaffold(Path.cwd(), name)
    for path in written:
        click.echo(f"wrote {path.relative_to(Path.cwd())}")
    click.echo(next_step(Path.cwd(), name))
