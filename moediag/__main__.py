from moediag.cli import main

main()
