from qi_station.cli import main

main()
