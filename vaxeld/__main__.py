import sys

from vaxeld.cli import main

sys.exit(main())
