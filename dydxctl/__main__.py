from dydxctl.cli import main

main()
