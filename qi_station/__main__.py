from qi_station.entry import main

main()
