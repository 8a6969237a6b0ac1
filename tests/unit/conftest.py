"""Make the checkout importable as ansible_collections.azure_backup.remediation
when pytest runs straight from the repository (ansible-test sets this up itself)."""

import os
import sys

_COLLECTIONS = os.path.join(os.path.dirname(__file__), "..", "..", ".collections")
if os.path.isdir(_COLLECTIONS):
    sys.path.insert(0, os.path.abspath(_COLLECTIONS))
