# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""Each check of a Linux cause on its own: one that cannot read its files fails alone, the cause's
other checks still run and are reported."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import explain
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Step


def isolated(check: str, step_of, *args) -> Step:
    """``step_of(*args)``'s Step, or a failed Step for `check` naming why what it reads could not be read
    (an OSError, explained for the operator, or a ValueError: a file the check cannot make sense of)."""
    try:
        return step_of(*args)
    except (OSError, ValueError) as exc:
        reason, remedy = explain(exc) if isinstance(exc, OSError) else (str(exc), "")
        return Step(check, "failed", "cannot read what %s needs: %s%s" % (check, reason, (". " + remedy) if remedy else ""),
                    {"error": str(exc)})
