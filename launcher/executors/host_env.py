"""The environment a local host starts with: what SageMaker gives the job, not the laptop's whole environment.

A host gets the request's Environment, SageMaker's TRAINING_JOB_NAME/ARN, the machine basics a process needs
to run at all (PATH, locale, CA bundles), and AWS credentials standing in for the job's execution role
(SageMaker hands the container the role's credentials; locally the launcher's own credentials play that part).
Everything else on the laptop (MLflow credentials, virtualenv variables, tokens) stays out, so a rehearsal
cannot pass on something the cloud job will not have.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from launcher.executors.tree import host_environment
from train.contract.paths import BASE_DIR_ENV, ContainerPaths

MACHINE_BASICS = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "TERM", "TMPDIR", "SSL_CERT_FILE",
                  "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
ROLE_STAND_IN = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION",
                 "AWS_DEFAULT_REGION", "AWS_CA_BUNDLE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")
ROLE_STAND_IN_PREFIXES = ("AWS_ENDPOINT_URL",)
DEBUGGER = ("PYTHONBREAKPOINT",)


def aws_role_stand_in(environ: Mapping[str, str]) -> dict[str, str]:
    """The laptop's AWS settings that stand in for the execution role's credentials."""
    found = {key: value for key, value in environ.items()
             if key in ROLE_STAND_IN or key.startswith(ROLE_STAND_IN_PREFIXES)}
    home = Path(environ.get("HOME", str(Path.home())))
    for variable, name in (("AWS_CONFIG_FILE", "config"), ("AWS_SHARED_CREDENTIALS_FILE", "credentials")):
        if variable not in found and (home / ".aws" / name).is_file():
            found[variable] = str(home / ".aws" / name)  # the host's HOME is its own, so name the files
    return found


def process_environment(request: dict[str, Any], tree: ContainerPaths, host: str, environ: Mapping[str, str],
                        interactive: bool = False) -> dict[str, str]:
    """The full environment of a local-process host (nothing inherited implicitly)."""
    passed = MACHINE_BASICS + (DEBUGGER if interactive else ())
    env = {key: environ[key] for key in passed if key in environ}
    env.update(aws_role_stand_in(environ))
    home = tree.base / "home"
    home.mkdir(exist_ok=True)
    env.update({"HOME": str(home), "PYTHONUNBUFFERED": "1", BASE_DIR_ENV: str(tree.base)})
    env.update(host_environment(request, host))
    return env
