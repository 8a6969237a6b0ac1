# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MARS_VERSION: the MARS agent is not older than a minimum (article 004: "make sure the MARS agent is up to date";
vault credentials need 2.0.9249.0 or later). Reports only: the agent is updated by its own installer."""

from __future__ import annotations

from ansible_collections.azure_backup.remediation.plugins.module_utils.core.errors import RemediationError
from ansible_collections.azure_backup.remediation.plugins.module_utils.core.runner import Step
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars
from ansible_collections.azure_backup.remediation.plugins.plugin_utils.windows import mars_causes as causes

READ = r"""#azure_backup.remediation/mars_version.read
# The MARS agent: its folder and the FileVersion of Bin\cbengine.exe. Reads only.
[CmdletBinding(SupportsShouldProcess)]
param()
$ErrorActionPreference = 'Stop'
$Ansible.Changed = $false
""" + mars.GET_MARS_AGENT + r"""
$Ansible.Result = @{ agent = Get-MarsAgent }
"""


class ActionModule(mars.MarsCauseAction):
    CAUSE = "MARS_VERSION"
    ARGUMENT_SPEC = {"min_version": {"type": "str", "default": causes.MIN_VERSION}}

    def first_read(self) -> tuple | None:
        try:
            causes.validate_version(self.args["min_version"])
        except ValueError:
            return None  # steps() says why
        return READ, "the MARS agent's version", {}

    def steps(self):
        try:
            causes.validate_version(self.args["min_version"])
        except ValueError as exc:
            raise RemediationError("MARS_VERSION on %s: %s. Nothing was read." % (self.host, exc), check="arguments") from None
        state = self.read(READ, "the MARS agent's version")
        if not self.installed(state):
            yield self.not_installed_step()
            return
        agent = state["agent"]
        detail = {"version": agent.get("version"), "minimum": self.args["min_version"], "install_path": agent.get("install_path"),
                  "download": causes.DOWNLOAD}
        problem = causes.version_problem(agent.get("version"), self.args["min_version"])
        if problem:
            yield Step("version", "found", "%s: install the current agent from %s"
                       % (problem, causes.DOWNLOAD), detail)
        else:
            yield Step("version", "ok", "MARS agent %s (at least %s)" % (agent["version"], self.args["min_version"]), detail)
