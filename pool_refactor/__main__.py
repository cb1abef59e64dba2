from pool_refactor.cli import main

main()
