#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_mars_prereqs
short_description: Report the MARS prerequisites .NET 4.5.2, clock and time zone (cause MARS_PREREQS)
version_added: 0.2.0
description:
  - Reports, changing nothing, what article 004's basic troubleshooting asks of the server.
  - .NET Framework 4.5.2 or later, that is a C(Release) of at least 379893 under
    C(HKLM\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full).
  - The clock, against the controller's clock. The controller sends its UTC time as a script parameter and the VM answers
    with its own. The VM read its clock between the two, so only an offset beyond O(max_clock_skew) over the whole round
    trip is reported; where the host read served the read, the round trip ends when the host read answered. No outside
    time source is contacted, so a controller whose clock is wrong makes every VM look skewed.
  - The time zone (its Id and UTC offset), as information.
  - Runs only where the MARS agent is installed (C(InstallPath) under C(HKLM\SOFTWARE\Microsoft\Windows Azure Backup\Setup),
    or the C(obengine) service); elsewhere the cause is skipped with no finding.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  max_clock_skew:
    description: The most seconds the VM's clock may differ from the controller's.
    type: int
    default: 300
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.READ_ONLY
"""

EXAMPLES = r"""
- name: Report the MARS prerequisites
  azure_backup.remediation.win_mars_prereqs:
    max_clock_skew: 120
"""

RETURN = r"""
findings:
  description: The checks C(dotnet), C(clock) and C(time_zone).
  returned: always
  type: list
  elements: dict
"""
