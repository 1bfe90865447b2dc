"""`python -m devkit ...` is the `cairn` command, for environments without the console script."""

from devkit.cli import main

raise SystemExit(main())
