"""``python -m assistant``: the ``assistant`` command, for a checkout without the script."""

from assistant.cli import main

main()
