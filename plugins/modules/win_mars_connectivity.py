#!/usr/bin/python
# Copyright: (c) 2026, azure_backup.remediation contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

# The code is the action plugin of the same name (plugins/action/); this file holds its documentation.

from __future__ import annotations

DOCUMENTATION = r"""
module: win_mars_connectivity
short_description: Check that the MARS agent reaches Azure Backup and report its SYSTEM account's proxies (cause MARS_CONNECTIVITY)
version_added: 0.2.0
description:
  - Only where the MARS agent (Microsoft Azure Recovery Services agent) is installed; elsewhere the cause is skipped.
  - From the VM, opens a TCP connection to each of O(endpoints), all at once within O(timeout), directly (not through
    WinHTTP's proxy), and names each endpoint that fails and how (dns, refused, timeout). Article 004 (ID 100050, and
    34513's proxy and firewall row) lists C(www.msftncsi.com), the wildcard domains C(*.Microsoft.com),
    C(*.WindowsAzure.com), C(*.microsoftonline.com) and C(*.windows.net), and the ranges 20.190.128.0/18 and
    40.126.0.0/18. A wildcard cannot be probed, so the defaults are concrete names under them. TLS and HTTP are not checked.
  - Firewalls, proxies, NSG rules and routes are changed outside the VM, so failures are reported, not fixed.
  - Reports the proxies of the agent's SYSTEM account, and sets none. The machine's WinHTTP proxy (what
    C(netsh winhttp show proxy) shows) is read from the registry value WinHttpSettings; SYSTEM's Internet Explorer LAN
    settings (WinINet, what article 004 has checked with C(psexec -i -s)) from C(DefaultConnectionSettings) under
    C(HKU\S-1-5-18\Software\Microsoft\Windows\CurrentVersion\Internet Settings\Connections). Both are read by
    structure, the same in every language.
  - The WinHTTP proxy is set by the network cause alone (C(network_http_proxy_host)); when O(network_http_proxy) is given
    and WinHTTP differs, the finding says that NETWORK sets it. Also found, as a warning, and only reported, are SYSTEM's LAN
    settings that name another proxy or bypass list than WinHTTP or an automatic configuration script (automatic
    detection alone is not counted, as it is a new profile's default and means direct access where no WPAD server
    answers), and proxy details typed in but not turned on (article 004 says to remove them).
  - The agent's own proxy (C(Set-OBMachineSetting -ProxyServer)) is not read; Microsoft documents no place to read it from.
  - When a proxy is in use, the direct probes failing is expected where only the proxy may go out; the finding says so
    and is a warning.
author:
  - Azure Backup Remediation maintainers (@azure-backup-remediation)
options:
  endpoints:
    description:
      - Endpoints as C(host) (port 443) or C(host:port). No wildcards.
    type: list
    elements: str
    default: [www.msftncsi.com, login.microsoftonline.com]
  timeout:
    description: Seconds all TCP connections together may take.
    type: float
    default: 5
  network_http_proxy:
    description:
      - The WinHTTP proxy the network cause sets (C(host:port)), passed in by the roles when the network cause runs too
        (C(network_http_proxy_host) and C(network_http_proxy_port)). Only compared, to say who sets WinHTTP. Empty compares nothing.
    type: str
    default: ""
  network_http_proxy_bypass:
    description: The bypass list the network cause sets with O(network_http_proxy) (C(network_http_proxy_bypass)).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - azure_backup.remediation.attributes
  - azure_backup.remediation.attributes.WINDOWS
  - azure_backup.remediation.attributes.FIXES
"""

EXAMPLES = r"""
- name: Check the MARS agent's endpoints and report its SYSTEM account's proxies
  azure_backup.remediation.win_mars_connectivity:

- name: Also say when WinHTTP is not yet the proxy the network cause sets
  azure_backup.remediation.win_mars_connectivity:
    network_http_proxy: proxy.corp.example:3128
    network_http_proxy_bypass: ["<local>"]
"""

RETURN = r"""
findings:
  description: The checks C(proxy) and C(endpoints).
  returned: always
  type: list
  elements: dict
"""
