"""What pre-flight found: one line per check (ok, WARN or FAIL, with what to do), and what the launch uses of
it (the image pinned by digest, secret ARNs, the region)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from launcher.cloud.aws import ResolvedImage
from launcher.core.errors import LauncherError

EXIT_PREFLIGHT = 3


class Caveat(LauncherError):
    """Raised by a probe that passes with a caveat: the launch may go on, the user should read why."""


@dataclass(frozen=True)
class Check:
    """One pre-flight result."""

    name: str
    ok: bool
    detail: str
    warning: bool = False

    def __str__(self) -> str:
        label = "FAIL" if not self.ok else "WARN" if self.warning else "ok  "
        return f"{label} {self.name}: {self.detail}"


@dataclass
class PreflightReport:
    """All check results, plus what the checks found that the launch uses."""

    checks: list[Check] = field(default_factory=list)
    image: ResolvedImage | None = None
    region: str | None = None
    local_image_id: str | None = None
    secret_refs: dict[str, str] = field(default_factory=dict)  # variable → ARN[#field], for the request

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def add(self, name: str, probe: Callable[[], str]) -> bool:
        """Run `probe`: its return value is the detail of a passed check, Caveat a passed check's caveat,
        another LauncherError (or OSError) the detail of a failed one. Returns whether it passed."""
        try:
            self.checks.append(Check(name, True, probe()))
        except Caveat as caveat:
            self.checks.append(Check(name, True, str(caveat), warning=True))
        except (LauncherError, OSError) as error:
            self.checks.append(Check(name, False, str(error)))
        except Exception as error:  # a service answering garbage, say: a failed check, not a crashed launch
            self.checks.append(Check(name, False, f"unexpected {type(error).__name__}: {error}"))
        return self.checks[-1].ok

    def passed(self, *names: str) -> bool:
        return all(check.ok for check in self.checks if check.name in names)


class PreflightError(LauncherError):
    """At least one pre-flight check failed; nothing was created."""

    exit_code = EXIT_PREFLIGHT

    def __init__(self, report: PreflightReport) -> None:
        super().__init__(report)
        self.report = report

    def __str__(self) -> str:
        failed = [check for check in self.report.checks if not check.ok]
        lines = [f"pre-flight failed ({len(failed)} of {len(self.report.checks)} checks); nothing was created:"]
        return "\n".join(lines + [f"  {check}" for check in self.report.checks])
