import sys

from generations_live.cli import main

sys.exit(main())
