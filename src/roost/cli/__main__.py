"""`python -m roost.cli`: how the daemon starts its server, whatever the PATH holds."""

from roost.cli.main import main

main()
