module example.com/tdmscan-gate

go 1.19
