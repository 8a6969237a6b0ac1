# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # One wording for every module's capabilities (each module states its support level),
    # and the finding shape every module of the collection returns.
    DOCUMENTATION = r"""
options: {}
notes:
  - Each check returns findings of the shape C({id, check, host, status, severity, summary, detail, doc}).
    C(id) is the cause ID from the collection's cause catalogue, C(status) is one of C(ok), C(fixed),
    C(found), C(skipped), C(failed). C(host) is filled in by the roles with the inventory name.
attributes:
  check_mode:
    description:
      - In check mode the module reads the machine, reports each problem with status C(found)
        and C(changed=true) for what it would fix, and changes nothing.
  diff_mode:
    description:
      - Returns the state before and after the fix (or the fix it would make, in check mode).
"""

    LINUX = r"""
options: {}
attributes:
  platform:
    description: Target operating systems this module runs on.
    support: full
    platforms: posix
"""

    # Windows causes: action plugins on the controller driving the VM through ansible.windows modules.
    WINDOWS = r"""
options: {}
requirements:
  - The C(ansible.windows) collection on the controller, and the VM reached over WinRM or PSRP as an administrator.
notes:
  - Runs on the controller. One read-only PowerShell script, sent through M(ansible.windows.win_powershell),
    reads what the cause needs in one round trip; the controller decides; only what differs is changed, through
    the ansible.windows module made for it where there is one (a script of its own where there is none), and
    read again where a fix must be confirmed. A healthy VM costs one round trip per cause.
  - Tested against the collection's simulated Windows hosts behind a real WinRM endpoint, not yet on real Windows.
attributes:
  action:
    description: The module is an action plugin; it runs on the controller and sends ansible.windows modules to the VM.
    support: full
  platform:
    description: Target operating systems this module runs on.
    support: full
    platforms: windows
"""

    # Modules that fix: full check mode and diff.
    FIXES = r"""
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
"""

    # Report-only modules: the same words and support levels for all of them.
    READ_ONLY = r"""
options: {}
attributes:
  check_mode:
    support: full
    details: The module only reads; it runs the same in check mode.
  diff_mode:
    support: none
    details: Nothing is changed, so there is nothing to diff.
"""
