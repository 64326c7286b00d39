import sys

from alarmfilter.cli import main

sys.exit(main())
