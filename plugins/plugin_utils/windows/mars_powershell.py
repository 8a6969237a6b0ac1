# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_POWERSHELL's decisions: the MSOnlineBackup module on the machine's PSModulePath, and an execution policy
that lets the backup task's PowerShell run (article 004, "Backups don't run according to schedule").

Which folder goes on PSModulePath: article 004 writes "<MARS agent installation path>\\Microsoft Azure Recovery
Services Agent\\bin\\Modules\\MSOnlineBackup". PowerShell looks for a module in the *subfolders* of each
PSModulePath entry (learn.microsoft.com, about_PSModulePath: "...\\Modules\\<ModuleName>\\<ModuleName>.psd1"), so
the entry that lets ``Import-Module MSOnlineBackup`` find the module is its parent, ``<install>\\Bin\\Modules``,
which is also what the agent's setup adds. That folder is what is checked and added; the article's literal
path alone does not make the module load and is not taken for it.

Execution policy (learn.microsoft.com, about_Execution_Policies): a Group Policy (MachinePolicy) wins over every
other scope; LocalMachine ``Restricted`` stops every script; ``Undefined`` in every scope means the default,
which is Restricted on Windows clients and RemoteSigned on Windows Server. The fix is RemoteSigned, one of the
two policies the article names (the other, Unrestricted, allows more than needed).
"""

from __future__ import annotations

import re

FIX_POLICY = "RemoteSigned"
MODULE = "MSOnlineBackup"
# Win32_OperatingSystem.ProductType: 1 workstation, 2 domain controller, 3 server.
_WORKSTATION = 1
# win_path's own split of a PATH-style value: quoted elements may hold ';' (ansible.windows win_path.ps1).
_ELEMENT = re.compile(r'((?P<q>\s*"[^"]+"\s*)|(?P<r>[^;]+))(;$|$|;)')


def module_folder(install_path: str) -> str:
    return install_path.rstrip("\\") + "\\Bin\\Modules"


def _same(a: str, b: str) -> bool:
    """Path elements compared as win_path compares them: quotes and trailing backslashes aside, any case."""
    return a.strip().strip('"').rstrip("\\").lower() == b.strip().strip('"').rstrip("\\").lower()


def on_path(expanded: list[str], folder: str) -> bool:
    """Whether ``folder`` is one of PSModulePath's entries (as expanded on the VM)."""
    return any(_same(entry, folder) for entry in expanded)


def elements(raw: str | None) -> list[str]:
    return [m.group("q") or m.group("r") for m in _ELEMENT.finditer(raw or "")]


def with_folder(raw: str | None, folder: str) -> str:
    """The value win_path writes when it adds ``folder``: the elements joined with ';', the new one last."""
    items = elements(raw)
    if not any(_same(item, folder) for item in items):
        items.append(folder)
    return ";".join(items)


def policy(machine_policy: str | None, local_machine: str | None, product_type) -> tuple[str, str]:
    """('ok' | 'fix' | 'gpo', why) for the execution policy that the backup task's PowerShell gets."""
    machine_policy = machine_policy or "Undefined"
    local_machine = local_machine or "Undefined"
    if machine_policy != "Undefined":
        if machine_policy == "Restricted":
            return "gpo", ("a Group Policy (MachinePolicy) sets the execution policy to Restricted; it wins over LocalMachine and cannot be "
                           "changed here: set \"Turn on Script Execution\" to allow local and remote signed scripts in that policy")
        return "ok", "a Group Policy (MachinePolicy) sets the execution policy to %s" % machine_policy
    if local_machine == "Restricted":
        return "fix", "the LocalMachine execution policy is Restricted"
    if local_machine == "Undefined":
        if str(product_type) == str(_WORKSTATION):
            return "fix", "the LocalMachine execution policy is Undefined, which is Restricted on a Windows client"
        return "ok", "the LocalMachine execution policy is Undefined, which is RemoteSigned on Windows Server"
    return "ok", "the LocalMachine execution policy is %s" % local_machine
