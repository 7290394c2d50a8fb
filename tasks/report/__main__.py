"""`python -m tasks.report [--root .] [--out reports/index.html]`: build the report without Prefect."""
from tasks.report.build import main

raise SystemExit(main())
