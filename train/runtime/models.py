"""A trained model in the MLflow flavour its framework speaks, serialized once: saved to /opt/ml/model first,
then those same files logged to the run.

The flavour is read from the model's class (its module), so the runtime never imports a framework the task
does not use: a torch.nn.Module is logged with mlflow.pytorch, a scikit-learn estimator with mlflow.sklearn,
an mlflow.pyfunc.PythonModel with mlflow.pyfunc. Requirements are pinned from the installed packages (MLflow's
own inference loads the model in a subprocess: seconds). Saving before logging keeps the model in
model.tar.gz even when the tracker is down at the end of the job.
"""

from __future__ import annotations

import shutil
from importlib import import_module, metadata
from pathlib import Path
from typing import Any

FLAVOURS = {  # flavour: (class module prefix, MLflow module, the packages the model needs to load)
    "pytorch": ("torch.nn", "mlflow.pytorch", ("torch", "numpy")),
    "sklearn": ("sklearn.", "mlflow.sklearn", ("scikit-learn", "numpy", "scipy")),
    "pyfunc": ("mlflow.pyfunc", "mlflow.pyfunc", ("numpy",)),
}


def flavour_of(model: Any) -> str:
    """'pytorch', 'sklearn' or 'pyfunc', from the model's class hierarchy (nothing imported)."""
    for cls in type(model).__mro__:
        module = cls.__module__ or ""
        for flavour, (prefix, _, _) in FLAVOURS.items():
            if module.startswith(prefix):
                return flavour
    raise TypeError(f"cannot log a {type(model).__name__}: log a torch.nn.Module, a scikit-learn estimator or an "
                    "mlflow.pyfunc.PythonModel (wrap anything else in a PythonModel)")


def _pinned(package: str) -> str | None:
    try:
        version = metadata.version(package)
    except metadata.PackageNotFoundError:
        return None
    return f"{package}=={version.split('+')[0]}"  # drop local labels such as +cpu


def requirements(flavour: str, extra: tuple[str, ...] = ()) -> list[str]:
    """Pinned pip requirements of a model of `flavour`, read from this environment."""
    mlflow_dist = "mlflow" if _pinned("mlflow") else "mlflow-skinny"
    found = (_pinned(name) for name in (*FLAVOURS[flavour][2], mlflow_dist))
    return [requirement for requirement in found if requirement] + list(extra)


def _predict(model: Any, flavour: str, example: Any) -> Any:
    if flavour == "pytorch":
        import torch

        model.eval()
        with torch.no_grad():
            return model(torch.as_tensor(example)).numpy()
    if flavour == "sklearn":
        return model.predict(example)
    return None  # a PythonModel's output is described by its type hints, if any


def save(model: Any, directory: Path, input_example: Any = None, extra_requirements: tuple[str, ...] = ()) -> str:
    """Save `model` to `directory` (replaced) in its flavour with signature, input example and pinned
    requirements; return the flavour."""
    from mlflow.models import infer_signature

    flavour = flavour_of(model)
    module = import_module(FLAVOURS[flavour][1])
    signature = None if input_example is None else infer_signature(input_example,
                                                                    _predict(model, flavour, input_example))
    shutil.rmtree(directory, ignore_errors=True)
    arguments: dict[str, Any] = {"signature": signature, "input_example": input_example,
                                 "pip_requirements": requirements(flavour, extra_requirements)}
    if flavour == "pyfunc":
        module.save_model(str(directory), python_model=model, **arguments)
    elif flavour == "pytorch":
        # pickle, as MLflow does on Databricks: MLflow's other default (torch.export, "pt2") costs 2+ s of
        # torch._dynamo imports per model and refuses models export cannot trace; the task's own classes travel
        # with the model (code_paths), so it loads anywhere
        module.save_model(model, str(directory), serialization_format="pickle", code_paths=_own_code(model),
                          **arguments)
    else:
        module.save_model(model, str(directory), **arguments)
    for listing in directory.glob("requirements.txt"):  # MLflow writes it without a final newline
        text = listing.read_text(encoding="utf-8")
        if text and not text.endswith("\n"):
            listing.write_text(text + "\n", encoding="utf-8")
    return flavour


def _own_code(model: Any) -> list[str] | None:
    """The package holding the model's class, when it is not the framework's own (e.g. train/mytask)."""
    module = type(model).__module__ or ""
    if module.startswith(("torch.", "sklearn.", "mlflow.")) or module in ("torch", "builtins", "__main__"):
        return None
    import sys

    source = getattr(sys.modules.get(module.split(".")[0]), "__path__", None)
    return [str(Path(next(iter(source))))] if source else None
