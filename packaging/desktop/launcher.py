"""Entry point of the standalone desktop build: the same `skill-designer` as the installed one."""

import sys

from designer.cli import main

if __name__ == "__main__":
    sys.exit(main())
