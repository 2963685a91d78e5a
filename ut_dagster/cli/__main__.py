import sys

from ut_dagster.cli import main

sys.exit(main())
