import sys

from ut_dagster.cli.main import main

sys.exit(main())
