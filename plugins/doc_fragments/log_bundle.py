# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # What the Linux and the Windows log bundle share: where the archive goes and when one is collected.
    DOCUMENTATION = r"""
options:
  dest:
    description: Folder on the controller for the archives; created if missing.
    type: path
    required: true
  when:
    description:
      - V(problems) collects when O(findings) has a C(failed) check or a C(critical) one still C(found),
        or O(failures) names a cause whose task failed. V(always) collects for every host, V(never) for none.
    type: str
    choices: [problems, always, never]
    default: problems
  findings:
    description: The host's findings (the fact C(azure_backup_findings)).
    type: list
    elements: dict
    default: []
  failures:
    description: Causes whose task failed on the host, as C({id, msg}).
    type: list
    elements: dict
    default: []
"""
