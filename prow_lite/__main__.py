import sys

from prow_lite.cli import main

sys.exit(main())
