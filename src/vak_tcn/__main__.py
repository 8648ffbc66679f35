"""``python -m vak_tcn``: the ``vak-tcn`` command."""

import sys

from vak_tcn.cli import main

sys.exit(main())
