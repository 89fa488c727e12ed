import sys

from ghproxy.cli import main

sys.exit(main())
