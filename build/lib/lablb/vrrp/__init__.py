"""VRRP (RFC 3768 v2, RFC 5798 v3): packet codec, timers, state machine and engine (pure);
io.py and daemon.py are the edge that runs them against sockets and a clock."""
