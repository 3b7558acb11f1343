"""FIX 4.4 wire codec and acceptor session layer of the mock venue."""
