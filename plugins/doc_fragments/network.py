# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The endpoints the NETWORK checks reach from the VM, the same on Linux and Windows
    # (argument spec: _network.ENDPOINT_ARGUMENT_SPEC).
    DOCUMENTATION = r"""
options:
  wireserver:
    description: The wireserver address. Tests point it at their own server; never at a real address there.
    type: str
    default: 168.63.129.16
  wireserver_port:
    description: The wireserver's port for the fabric protocol (on Linux asked for C(/?comp=versions)).
    type: int
    default: 80
  hostplugin_port:
    description: The host plugin's port on the wireserver (on Linux asked for C(/health)).
    type: int
    default: 32526
  storage_host:
    description: The storage endpoint the backup writes to (the account's C(<name>.blob.core.windows.net)). Not checked when empty.
    type: str
    default: ""
  storage_ports:
    description: Ports of the storage endpoint (443, and 8443 for managed disks).
    type: list
    elements: int
    default: [443, 8443]
  dns_names:
    description: Names that must resolve, besides O(storage_host).
    type: list
    elements: str
    default: [management.azure.com]
"""
