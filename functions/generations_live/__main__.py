import sys

from generations_live.entrypoints.cli import main

sys.exit(main())
