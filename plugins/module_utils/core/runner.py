# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""The one fix protocol every cause follows, on Linux (in a module on the VM) and on Windows (in an
action plugin on the controller).

A cause reads the machine once, decides with pure functions and yields Steps, one per check. A Step
that found nothing to change is recorded as it is (ok, found, skipped, failed). A Step that carries a
Change is a problem this run can repair: in check mode it is reported as ``found`` with what would
change; otherwise the runner applies it and reports ``fixed``, or ``failed`` with the host-side reason
and the remedy when applying fails. A failed change never stops the cause's other steps, and an error
while reading ends only that cause, with what was learnt so far kept.

Steps are yielded lazily: a cause sees whether an earlier change was applied (``change.done``) before it
decides the next step (the agent is restarted only if its configuration was changed).
"""

from __future__ import annotations

import traceback

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError, explain
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.findings import finding


class Change:
    """What a step would change and how.

    ``action`` says it in the imperative ("start walinuxagent.service"); ``apply`` does it and may return
    the state read back afterwards (a short text) or raise; ``diff`` is the before/after shown with --diff;
    ``path`` names the file the change writes, for the error message.
    """

    def __init__(self, action: str, apply, diff: dict | None = None, path: str | None = None) -> None:
        self.action, self.apply, self.diff, self.path = action, apply, diff, path
        self.done = False  # set by the runner once applied
        self.error: BaseException | None = None
        self.read_back: str | None = None


class Step:
    """One check of a cause: its finding, and the change that would repair it (None when nothing to change).

    ``cause`` names another cause ID for this one finding, where a check belongs elsewhere (the agent's
    proxy setting is NETWORK's even when the LINUX_AGENT module writes it); None: the run's cause."""

    def __init__(self, check: str, status: str = "ok", summary: str = "", detail: dict | None = None,
                 severity: str | None = None, change: Change | None = None, cause: str | None = None) -> None:
        self.check, self.status, self.summary = check, status, summary
        self.detail, self.severity, self.change, self.cause = dict(detail or {}), severity, change, cause


class CauseRun:
    """Turns one cause's Steps into findings, ``changed``, diffs and errors.

    ``lock`` (optional) is taken before the cause reads anything in apply mode and held until it ends,
    so two runs on one VM take turns; an object with acquire() and release().
    """

    # Other exceptions also kept as a failed finding (with what was learnt before) instead of ending the run.
    # The Linux driver keeps every Exception: a bug in one cause must not lose its findings or ``changed``.
    # The Windows driver keeps none: its control-flow exceptions (lost connection, refused host) must pass.
    UNEXPECTED: tuple = ()

    def __init__(self, cause: str, check_mode: bool, lock=None) -> None:
        self.cause, self.check_mode, self.lock = cause, check_mode, lock
        self.findings: list[dict] = []
        self.diffs: list[dict] = []
        self.changed = False
        self.errors: list[str] = []

    def run(self, steps_of) -> "CauseRun":
        """``steps_of`` is a callable returning the cause's Step iterator (called after the lock is held)."""
        held = False
        try:
            if self.lock is not None and not self.check_mode:
                self.lock.acquire()
                held = True
            for step in steps_of():
                self.record(step)
        except RemediationError as exc:
            self.findings.extend(exc.findings)
            self.changed = self.changed or exc.changed
            if not any(f["status"] == "failed" for f in exc.findings):
                self.add(exc.check or "read", "failed", exc.msg, exc.detail)
            self.errors.append(exc.msg)
        except OSError as exc:
            reason, remedy = explain(exc)
            msg = "%s: %s. %s" % (self.cause, reason, remedy)
            self.add("read", "failed", msg, {"error": str(exc)})
            self.errors.append(msg)
        except self.UNEXPECTED as exc:
            msg = "%s: unexpected error: %s: %s" % (self.cause, type(exc).__name__, exc)
            self.add("run", "failed", msg, {"traceback": traceback.format_exc()})
            self.errors.append(msg)
        finally:
            if held:
                self.lock.release()
        return self

    def add(self, check: str, status: str, summary: str, detail: dict | None = None, severity: str | None = None,
            cause: str | None = None) -> dict:
        entry = finding(cause or self.cause, check, status, summary, detail, severity)
        self.findings.append(entry)
        return entry

    def record(self, step: Step) -> dict:
        change = step.change
        if change is None:
            entry = self.add(step.check, step.status, step.summary, step.detail, step.severity, step.cause)
            if step.status == "failed":
                self.errors.append(step.summary)
            return entry
        if self.check_mode:
            self.changed = True
            self._diff(change)
            return self.add(step.check, "found", "%s; would %s" % (step.summary, change.action), step.detail, step.severity, step.cause)
        try:
            change.read_back = change.apply()
        except (OSError, RemediationError) + self.UNEXPECTED as exc:
            change.error = exc
            if isinstance(exc, RemediationError):
                reason, remedy = exc.msg, ""
                self.changed = self.changed or exc.changed
            elif isinstance(exc, OSError):
                reason, remedy = explain(exc, change.path)
            else:
                reason, remedy = "unexpected error: %s: %s" % (type(exc).__name__, exc), ""
            summary = "%s; could not %s: %s%s" % (step.summary, change.action, reason, (". " + remedy) if remedy else "")
            self.errors.append(summary)
            return self.add(step.check, "failed", summary, dict(step.detail, error=str(exc)), step.severity, step.cause)
        change.done = True
        self.changed = True
        self._diff(change)
        detail = dict(step.detail)
        if change.read_back:
            detail["after"] = change.read_back
        return self.add(step.check, "fixed", "%s; did %s" % (step.summary, change.action), detail, step.severity, step.cause)

    def _diff(self, change: Change) -> None:
        if change.diff:
            self.diffs.append(change.diff)

    def result(self) -> dict:
        """The module or action result: findings, changed, diff, and failed/msg when a step failed."""
        out = {"changed": self.changed, "findings": self.findings}
        if self.diffs:
            out["diff"] = self.diffs
        if self.errors:
            out.update(failed=True, msg=" | ".join(self.errors))
        return out
