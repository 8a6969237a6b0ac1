# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# This is a private module_utils file: it may change without notice.
"""The collection's one domain exception."""

from __future__ import annotations


class RemediationError(Exception):
    """A check or fix cannot go on; the message names what failed and what to do.

    ``findings`` carries what was learnt before the failure, so it is not lost;
    ``changed`` says whether the machine was changed before it.
    """

    def __init__(self, msg: str, findings: list | None = None, changed: bool = False) -> None:
        super().__init__(msg)
        self.msg = msg
        self.findings = findings or []
        self.changed = changed
