"""Stand-in for the get-pip.py that ansible-test downloads to bootstrap pip in its
sanity venvs. Its download host is not reachable from our CI; ansible-test reads a
copy from its cache instead (tests/run puts this file there). Same contract:
arguments are pip-install arguments. pip comes from Python's own ensurepip and is
then upgraded to the version ansible-test asks for, from PyPI."""

import subprocess
import sys

# In a child process: ensurepip.bootstrap() would set PIP_CONFIG_FILE=/dev/null
# here and hide the machine's pip configuration (index, CA bundle) from the install below.
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
# get-pip.py understands these two, pip install does not.
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + args))
