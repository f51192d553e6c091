module gomaxprocs

go 1.25
