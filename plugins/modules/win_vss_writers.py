#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_vss_writers
short_description: Restart the services of VSS writers in a bad state (cause VSS_WRITERS)
version_added: 0.2.0
description:
  - Runs C(vssadmin list writers) on the VM and reads it by structure and the numeric state, so localised
    Windows (German and others) is read alike. Reports every writer's state and last error.
  - Restarts the service of every writer whose state is not C([1]), once per service, then lists the writers again
    and fails the host for writers still bad.
  - A writer's service comes from a built-in table (the community table, without its rows known to be wrong) and
    O(services). A writer with no known service is reported, never guessed at.
  - Restarts nothing while the backup extension is taking a snapshot, because writers change state during a backup.
  - All services are restarted by one PowerShell script, not by M(ansible.windows.win_service), whose C(state=restarted) is
    C(Restart-Service). That refuses a service with running dependants (such as C(Winmgmt)) and, with C(force_dependent_services),
    waits without end for a service that never leaves StopPending. Here, the running dependants (and their dependants) stop
    first and start again after the service; every stop and start waits at most O(service_timeout) seconds; a service that
    fails is reported and the other services are still restarted; the writers are listed again in every case.
  - A service already stuck in StopPending is reported and not touched.
  - Writers whose service restart takes a workload down (C(Microsoft Exchange Writer), C(Microsoft Exchange Replica Writer),
    C(NTDS), C(MSMQ Writer (MSMQ)), C(DHCP Jet Writer), C(DFS Replication service writer), C(FRS Writer), and SharePoint's
    C(OSearch*) and C(SPSearch*) writers) are reported only, unless named in O(restart_workloads). DFS Replication and FRS
    are held on every server, not only on domain controllers.
  - Right before each stop the restart looks for the backup extension's process again; a snapshot that started since the
    read ends the restart there (what was stopped is started again) and is reported, not failed.
  - If the WinRM connection is lost during the restart (Ansible's winrm connection then ends the script), the connection is
    reset, the writers and services are read again, and the finding names the services that do not run.
  - C(vssadmin) runs with its stderr kept as text and its exit code reported.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  services:
    description: Writer name to service name, on top of the built-in table. An empty value removes a built-in row.
    type: dict
    default: {}
  restart_workloads:
    description:
      - Workload writers whose service may be restarted anyway, for example in a maintenance window.
      - Without this, C(Microsoft Exchange Writer), C(Microsoft Exchange Replica Writer) and C(NTDS) are reported only.
    type: list
    elements: str
    default: []
  service_timeout:
    description:
      - Seconds to wait for each service and each dependant to stop, and again to start. Must be above 0.
      - A service still stopping after that is reported as stuck in StopPending.
    type: int
    default: 60
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Restart the services of failed VSS writers
  azure_backup.remediation.win_vss_writers:

- name: Name the service of a writer the table lacks
  azure_backup.remediation.win_vss_writers:
    services:
      Task Scheduler Writer: Schedule

- name: Allow the Exchange writer's service to be restarted, waiting up to 2 minutes per service
  azure_backup.remediation.win_vss_writers:
    restart_workloads:
      - Microsoft Exchange Writer
    service_timeout: 120
"""

RETURN = r"""
findings:
  description:
    - C(writers) (every writer with state and last error) and one C(writer_<name>) per writer in a bad state; its C(detail.restart)
      says what happened to the service and its dependants.
    - C(service_<name>) for a service found stuck in StopPending before anything was done.
  returned: always
  type: list
  elements: dict
"""
